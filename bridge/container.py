"""Composition root: Settings → engine/Store → AmojoClient → channels → Relay → Worker.

The only core module that imports ``channels.*``.
"""

from __future__ import annotations

import logging
import secrets

from bridge.accounts import Accounts
from bridge.amojo import AmojoClient
from bridge.channel import Channel, ChannelConnection, ChannelRegistry
from bridge.crypto import SecretBox
from bridge.delivery.to_amocrm import InboundDelivery
from bridge.delivery.to_customer import OutboundDelivery
from bridge.errors import ConfigError
from bridge.ids import ConnectionId
from bridge.jobs import JobKind
from bridge.logging import register_secret
from bridge.media import MediaLinks
from bridge.metrics import Metrics
from bridge.receivers import ReceiverMonitor
from bridge.relay import Relay
from bridge.retry import RetryPolicy
from bridge.settings import Settings
from bridge.worker import Worker
from storage import Store, create_engine, upgrade_to_head
from storage.models import Connection

log = logging.getLogger(__name__)


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        self.store = Store(self.engine)
        key = settings.secret_key.get_secret_value() if settings.secret_key else None
        self.box = SecretBox(key) if key else None
        self.amojo = AmojoClient.create(
            settings.amojo_base,
            str(settings.channel_id),
            settings.channel_secret.get_secret_value(),
            timeout=settings.amojo_timeout,
            rate=settings.amojo_rate,
        )
        self.channels = ChannelRegistry()
        self.channels.register("telegram", self._telegram)
        self.metrics = Metrics()
        self.relay = Relay(self.store)
        base = settings.public_base or f"http://{settings.host}:{settings.port}"
        self.media = MediaLinks(self.box, base, settings.media_link_ttl)
        inbound = InboundDelivery(self.store, self.amojo, self.media)
        outbound = OutboundDelivery(self.store, self.amojo, self.channels)
        self.worker = Worker(
            self.store,
            {
                JobKind.DELIVER_INBOUND: inbound.handler(),
                JobKind.PROCESS_HOOK: outbound.hook_handler(),
                JobKind.REPORT_DELIVERY: outbound.report_handler(),
            },
            policy=RetryPolicy(
                max_attempts=settings.retry_max_attempts,
                base=settings.retry_base,
                cap=settings.retry_cap,
                max_age=settings.retry_max_age,
            ),
            concurrency=settings.worker_concurrency,
            lease=settings.job_lease,
            on_outcome=self.metrics.job_outcome,
        )
        self.accounts = Accounts(self)
        self.receivers = ReceiverMonitor(self.store, self.channels)
        self.started = False

    def _telegram(self) -> Channel:
        from channels.telegram import TelegramChannel

        settings = self.settings
        return TelegramChannel(
            settings.telegram_base,
            timeout=settings.telegram_timeout,
            chat_rate=settings.telegram_chat_rate,
            chat_burst=settings.telegram_chat_burst,
            bot_rate=settings.telegram_bot_rate,
            allow_private_media_urls=settings.allow_private_media_urls,
        )

    def require_box(self) -> SecretBox:
        if self.box is None:
            raise ConfigError("BRIDGE_SECRET_KEY: required but not set")
        return self.box

    async def migrate(self) -> None:
        await upgrade_to_head(self.engine)

    def channel_connection(self, row: Connection) -> ChannelConnection:
        box = self.require_box()
        token = box.decrypt(row.token_encrypted)
        register_secret(token)  # from now on no log line carries it
        return ChannelConnection(
            connection_id=ConnectionId(row.id),
            token=token,
            webhook_secret=box.decrypt(row.webhook_secret_encrypted),
            public_url=self.settings.public_base,
        )

    @staticmethod
    def new_webhook_secret() -> str:
        return secrets.token_urlsafe(32)

    async def start(self) -> None:
        """Migrate, start every channel with its active connections, then the workers."""
        await self.migrate()
        async with self.store.read() as uow:
            rows = await uow.connections.list(active_only=True)
        for channel in self.channels:
            await channel.start(self.relay)
        for row in rows:
            await self.accounts.attach(row)
        self.receivers.start()
        await self.worker.start()
        self.started = True

    async def stop(self) -> None:
        """Stop receiving first, then let the workers drain, then release everything."""
        await self._stop_channels()
        await self.worker.stop()
        await self.close()
        self.started = False

    async def _stop_channels(self) -> None:
        for channel in self.channels.built():
            try:
                await channel.stop()
            except Exception:
                log.exception("stopping channel %s failed", channel.name)

    async def close(self) -> None:
        await self._stop_channels()
        await self.receivers.stop()
        await self.amojo.aclose()
        await self.store.close()
