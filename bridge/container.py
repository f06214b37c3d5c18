"""Composition root: Settings → engine/Store → AmojoClient → channels → Relay → Worker.

The only core module that imports ``channels.*``.
"""

from __future__ import annotations

import logging

from bridge.accounts import Accounts
from bridge.amojo import AmojoClient
from bridge.caches import Lookups
from bridge.channel import Channel, ChannelRegistry
from bridge.crypto import SecretBox
from bridge.delivery.to_amocrm import InboundDelivery
from bridge.delivery.to_customer import OutboundDelivery
from bridge.delivery.uncertain import UncertainSends
from bridge.jobs import JobKind
from bridge.media import MediaLinks
from bridge.metrics import Metrics
from bridge.receivers import ReceiverMonitor
from bridge.relay import Relay
from bridge.retry import RetryPolicy
from bridge.settings import Settings
from bridge.worker import Worker
from storage import Store, create_engine, upgrade_to_head

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
        # The one cache of connection and conversation rows, shared by everything below.
        self.lookups = Lookups()
        self.relay = Relay(self.store, self.lookups)
        base = settings.public_base or f"http://{settings.host}:{settings.port}"
        self.media = MediaLinks(self.box, base, settings.media_link_ttl)
        inbound = InboundDelivery(self.store, self.amojo, self.media, self.lookups)
        outbound = OutboundDelivery(
            self.store,
            self.amojo,
            self.channels,
            self.lookups,
            UncertainSends(settings.uncertain_sends, self.metrics.uncertain_resend),
        )
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
        self.accounts = Accounts(
            self.store,
            self.amojo,
            self.channels,
            self.lookups,
            box=self.box,
            public_base=settings.public_base,
        )
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

    async def migrate(self) -> None:
        await upgrade_to_head(self.engine)

    async def start(self) -> None:
        """Migrate, start every channel with its active connections, then the workers."""
        await self.migrate()
        async with self.store.read() as uow:
            rows = await uow.connections.list(active_only=True)
        for channel in self.channels:
            await channel.start(self.relay)
        for row in rows:
            await self.accounts.attach(row)
        self.accounts.receiving = True
        self.receivers.start()
        await self.worker.start()
        self.started = True

    async def stop(self) -> None:
        """Stop receiving first, then let the workers drain, then release everything."""
        self.accounts.receiving = False
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
