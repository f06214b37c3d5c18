"""Connecting, disconnecting and listing amoCRM accounts ⇄ messenger bots (admin use cases)."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from dataclasses import dataclass

from bridge.amojo import AmojoClient
from bridge.caches import Lookups
from bridge.channel import ChannelConnection, ChannelRegistry
from bridge.crypto import SecretBox
from bridge.errors import BridgeError, ConfigError
from bridge.ids import ConnectionId
from bridge.logging import register_secret
from storage import Store
from storage.models import Connection, ConnectionMode, ConnectionState, JobStatus

log = logging.getLogger(__name__)


class ConnectError(BridgeError):
    """The account could not be connected."""


@dataclass(frozen=True, slots=True)
class StatusRow:
    account_id: str
    scope_id: str
    title: str
    bot: str
    mode: str
    state: str
    messages_in: int
    messages_out: int
    queued: int
    failed: int
    last_error: str | None
    receiver: str = ""  # e.g. "polling, ok 3s ago" or "retrying: Telegram could not be ..., 2m"


@dataclass(frozen=True, slots=True)
class FailedJob:
    job_id: int
    kind: str
    account_id: str
    attempts: int
    last_error: str


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def describe_receiver(row: Connection, now: float | None = None) -> str:
    """The receiver column of ``status``, from what the serving process last wrote."""
    if row.state != ConnectionState.ACTIVE or row.receiver_state is None:
        return ""
    now = time.time() if now is None else now
    if row.receiver_state == "running":
        seen = row.receiver_last_ok or row.receiver_since or now
        return f"{row.mode}, ok {_ago(now - seen)} ago"
    since = _ago(now - (row.receiver_since or now))
    if row.receiver_error:
        return f"{row.receiver_state}: {row.receiver_error}, {since}"
    return f"{row.receiver_state}, {since}"


class Accounts:
    """``box`` is None when no ``BRIDGE_SECRET_KEY`` is set (``status`` needs none);
    ``public_base`` is the URL messengers reach this bridge at (webhook mode), if any."""

    def __init__(
        self,
        store: Store,
        amojo: AmojoClient,
        channels: ChannelRegistry,
        lookups: Lookups,
        *,
        box: SecretBox | None,
        public_base: str | None,
    ) -> None:
        self._store = store
        self._amojo = amojo
        self._channels = channels
        self._lookups = lookups
        self._box = box
        self._public_base = public_base
        # Set while the channels receive (``serve``): a new connection starts receiving at once.
        self.receiving = False

    def _require_box(self) -> SecretBox:
        if self._box is None:
            raise ConfigError("BRIDGE_SECRET_KEY: required but not set")
        return self._box

    def channel_connection(self, row: Connection) -> ChannelConnection:
        """What the adapter gets: the credentials, decrypted in memory only."""
        box = self._require_box()
        token = box.decrypt(row.token_encrypted)
        register_secret(token)  # from now on no log line carries it
        return ChannelConnection(
            connection_id=ConnectionId(row.id),
            token=token,
            webhook_secret=box.decrypt(row.webhook_secret_encrypted),
            public_url=self._public_base,
        )

    async def connect(
        self, account_id: str, token: str, title: str | None = None, channel_name: str = "telegram"
    ) -> Connection:
        """getMe, Chats API connect, then store (token encrypted). Idempotent per account."""
        box = self._require_box()
        channel = self._channels.get(channel_name)
        account = await channel.probe(token)
        answer = await self._amojo.connect(account_id, title or f"@{account.username}")
        scope_id = answer.get("scope_id")
        if not isinstance(scope_id, str) or not scope_id:
            raise ConnectError("the Chats API connect answer carried no scope_id")
        mode = ConnectionMode.WEBHOOK if self._public_base else ConnectionMode.POLLING
        async with self._store.transaction() as uow:
            other = await uow.connections.by_external(channel_name, account.external_id)
            if other is not None and other.amojo_account_id != account_id:
                raise ConnectError(
                    f"bot @{account.username} already serves account {other.amojo_account_id}; "
                    "disconnect it there first"
                )
            row = await uow.connections.by_account(channel_name, account_id)
            if row is None:
                row = Connection(
                    id=uuid.uuid4().hex,
                    channel=channel_name,
                    amojo_account_id=account_id,
                    scope_id=scope_id,
                    external_account_id=account.external_id,
                    token_encrypted="",
                    webhook_secret_encrypted=box.encrypt(secrets.token_urlsafe(32)),
                )
            row.scope_id = scope_id
            row.title = title or row.title or f"@{account.username}"
            row.external_account_id = account.external_id
            row.external_account_name = account.username
            row.token_encrypted = box.encrypt(token)
            row.mode = mode
            row.state = ConnectionState.ACTIVE
            row.last_error = None
            await uow.save(row)
        self._lookups.invalidate_connection(row)
        if self.receiving:
            await self.attach(row)
        return row

    async def attach(self, row: Connection) -> None:
        """Start receiving for a stored connection (at start-up, or right after connect)."""
        try:
            channel = self._channels.get(row.channel)
            await channel.add_connection(self.channel_connection(row))
        except Exception as error:
            log.error("connection could not start: %s", error, extra={"connection_id": row.id})
            async with self._store.transaction() as uow:
                await uow.connections.set_error(row.id, f"could not start: {error}")

    async def disconnect(self, account_id: str, channel_name: str = "telegram") -> Connection:
        async with self._store.read() as uow:
            row = await uow.connections.by_account(channel_name, account_id)
        if row is None:
            raise ConfigError(f"no connection for account {account_id}")
        await self._amojo.disconnect(account_id)
        async with self._store.transaction() as uow:
            row.state = ConnectionState.DISCONNECTED
            await uow.save(row)
        # This process stops serving it now; another process (``serve`` while the CLI
        # disconnects) refuses its hooks at once (the webhook reads the row when storing)
        # and its deliveries within the connection cache's TTL.
        self._lookups.invalidate_connection(row)
        if self.receiving:
            await self._channels.get(channel_name).remove_connection(ConnectionId(row.id))
        return row

    async def status(self) -> list[StatusRow]:
        return await connection_status(self._store)

    async def failed_jobs(self, limit: int = 20) -> list[FailedJob]:
        return await failed_jobs(self._store, limit)


async def connection_status(store: Store) -> list[StatusRow]:
    """One row per connection (``amo-bridge status``): reads the database only."""
    async with store.read() as uow:
        rows = await uow.connections.list()
        stats = await uow.connections.stats()
    result = []
    for row in rows:
        counts = stats.get(row.id)
        result.append(
            StatusRow(
                account_id=row.amojo_account_id,
                scope_id=row.scope_id,
                title=row.title,
                bot=f"@{row.external_account_name}"
                if row.external_account_name
                else row.external_account_id,
                mode=row.mode,
                state=row.state,
                messages_in=counts.messages_in if counts else 0,
                messages_out=counts.messages_out if counts else 0,
                queued=counts.queued if counts else 0,
                failed=counts.failed if counts else 0,
                last_error=row.last_error,
                receiver=describe_receiver(row),
            )
        )
    return result


async def failed_jobs(store: Store, limit: int = 20) -> list[FailedJob]:
    """The newest jobs that failed for good: what ``amo-bridge retry`` can replay."""
    async with store.read() as uow:
        accounts = {row.id: row.amojo_account_id for row in await uow.connections.list()}
        jobs = await uow.jobs.list(status=JobStatus.FAILED, newest_first=True, limit=limit)
    return [
        FailedJob(
            job.id or 0,
            job.kind,
            accounts.get(job.connection_id or "", ""),
            job.attempts,
            job.last_error or "",
        )
        for job in jobs
    ]
