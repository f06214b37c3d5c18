"""Receivers that heal themselves, and long polling that never loses an update.

aiogram's ``start_polling`` confirms a batch before its handlers finish, so a crash there
loses messages; the polling loop here asks for updates, hands each to the sink, and only then
confirms. Any failure (Telegram unreachable, an HTML error page, a revoked token) is logged
and retried with capped backoff; whatever still escapes the loop is caught by its supervisor,
which starts it again. Each receiver keeps its state for readiness checks and ``status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramUnauthorizedError
from aiogram.methods import DeleteWebhook, GetUpdates, SetWebhook
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from bridge.channel import ReceiverHealth, ReceiverState
from bridge.ids import ConnectionId
from channels.telegram.errors import describe
from channels.telegram.handlers import ALLOWED_UPDATES

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25
BACKOFF = BackoffConfig(min_delay=0.5, max_delay=30.0, factor=2.0, jitter=0.1)

RawHandler = Callable[[dict[str, Any]], Awaitable[None]]


class ReceiverStatus:
    """The mutable state behind a ``ReceiverHealth`` snapshot."""

    def __init__(self, connection_id: ConnectionId, mode: str) -> None:
        self.connection_id = connection_id
        self.mode = mode
        self.state = ReceiverState.STARTING
        self.since = time.time()
        self.last_ok: float | None = None
        self.last_error: str | None = None

    def ok(self) -> None:
        self.last_ok = time.time()
        if self.state is not ReceiverState.RUNNING:
            self.state, self.since, self.last_error = ReceiverState.RUNNING, self.last_ok, None

    def failed(self, error: BaseException) -> str:
        text = describe(error)
        state = (
            ReceiverState.FAILED
            if isinstance(error, TelegramUnauthorizedError)
            else ReceiverState.RETRYING
        )
        if state is not self.state:
            self.state, self.since = state, time.time()
        self.last_error = text
        return text

    def health(self) -> ReceiverHealth:
        return ReceiverHealth(
            self.connection_id, self.mode, self.state, self.since, self.last_ok, self.last_error
        )


class Supervised:
    """A background loop restarted with backoff whenever it ends by an error."""

    def __init__(self, name: str, connection_id: ConnectionId, status: ReceiverStatus) -> None:
        self._name = name
        self._connection_id = connection_id
        self.status = status
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=self._name)

    async def _run(self) -> None:
        raise NotImplementedError

    async def _supervise(self) -> None:
        backoff = Backoff(BACKOFF)
        while not self._stopping:
            try:
                await self._run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a receiver must never stay dead
                text = self.status.failed(error)
                log.error(
                    "receiver stopped by an error (%s); restarting it",
                    text,
                    extra={"connection_id": self._connection_id},
                )
                await backoff.asleep()

    async def _stop_task(self, *, cancel: bool) -> None:
        self._stopping = True
        if self._task is None:
            return
        if cancel:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class WebhookReceiver(Supervised):
    """Sets the webhook, retrying until Telegram takes it; updates then arrive by HTTP."""

    def __init__(self, bot: Bot, connection_id: ConnectionId, url: str, secret: str) -> None:
        super().__init__(
            f"webhook-{connection_id}", connection_id, ReceiverStatus(connection_id, "webhook")
        )
        self._bot = bot
        self._url = url
        self._secret = secret

    async def _run(self) -> None:
        backoff = Backoff(BACKOFF)
        while not self._stopping:
            try:
                await self._bot(
                    SetWebhook(
                        url=self._url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
                    )
                )
            except Exception as error:  # noqa: BLE001 - retried; the state says why
                text = self.status.failed(error)
                log.warning(
                    "setWebhook failed: %s", text, extra={"connection_id": self._connection_id}
                )
                await backoff.asleep()
                continue
            self.status.ok()
            log.info(
                "webhook set for bot %s",
                self._bot.id,
                extra={"connection_id": self._connection_id},
            )
            return

    async def stop(self) -> None:
        await self._stop_task(cancel=True)


class PollingReceiver(Supervised):
    def __init__(
        self,
        bot: Bot,
        connection_id: ConnectionId,
        handle: Callable[[Update], Awaitable[None]],
        handle_raw: RawHandler | None = None,
        poll_timeout: int = POLL_TIMEOUT,
    ) -> None:
        super().__init__(
            f"poll-{connection_id}", connection_id, ReceiverStatus(connection_id, "polling")
        )
        self._bot = bot
        self._handle = handle
        self._handle_raw = handle_raw
        self._poll_timeout = poll_timeout
        self._offset: int | None = None
        self._webhook_deleted = False
        self._handling = False

    async def stop(self) -> None:
        # only a getUpdates wait is interrupted; a batch being stored finishes first
        await self._stop_task(cancel=not self._handling)
        await self._confirm()

    async def _confirm(self) -> None:
        """Tell Telegram what we stored, so a restart does not fetch it again (dedup would
        drop it anyway; this only saves work)."""
        if self._offset is None:
            return
        with contextlib.suppress(Exception):
            await self._bot(GetUpdates(offset=self._offset, limit=1, timeout=0), request_timeout=5)

    async def _poll(self) -> list[Update] | list[dict[str, Any]]:
        if not self._webhook_deleted:
            # getUpdates and a webhook exclude each other; a webhook left from an earlier
            # deployment would make every poll fail with 409.
            await self._bot(DeleteWebhook(drop_pending_updates=False))
            self._webhook_deleted = True
            self.status.ok()  # Telegram answers: running, before the first long poll ends
        try:
            return await self._bot(
                GetUpdates(
                    offset=self._offset,
                    timeout=self._poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                ),
                request_timeout=self._poll_timeout + 15,
            )
        except ClientDecodeError as error:
            # JSON that aiogram could not validate (a new kind of message, say): handled one
            # update at a time below, so one odd update does not block the others.
            batch = _raw_batch(error.data)
            if batch is None:
                raise
            return batch

    async def _run(self) -> None:
        backoff = Backoff(BACKOFF)
        while not self._stopping:
            try:
                updates = await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - retried; the state says why
                text = self.status.failed(error)
                log.warning(
                    "getUpdates failed: %s", text, extra={"connection_id": self._connection_id}
                )
                await backoff.asleep()
                continue
            self.status.ok()
            backoff.reset()
            if updates and not await self._deliver(updates, backoff):
                return

    async def _one(self, update: Update | dict[str, Any]) -> None:
        if isinstance(update, Update):
            await self._handle(update)
            return
        try:
            parsed = Update.model_validate(update, context={"bot": self._bot})
        except ValueError:
            if self._handle_raw is None:
                raise
            await self._handle_raw(update)
            return
        await self._handle(parsed)

    async def _deliver(
        self, updates: list[Update] | list[dict[str, Any]], backoff: Backoff
    ) -> bool:
        """Hand a batch to the sink until all of it is stored; False when stopping first.

        The updates are handed over together, in order, so the store can commit them at
        once; if any fails the whole batch is handed over again (storing is idempotent).
        """
        while True:
            self._handling = True
            try:
                results = await asyncio.gather(
                    *(self._one(update) for update in updates), return_exceptions=True
                )
            finally:
                self._handling = False
            failures = [r for r in results if isinstance(r, BaseException)]
            if not failures:
                self._offset = _update_id(updates[-1]) + 1
                return True
            log.error(
                "storing %d of %d updates failed (%s); will retry them",
                len(failures),
                len(updates),
                describe(failures[0]),
                extra={"connection_id": self._connection_id},
            )
            if self._stopping:
                return False
            await backoff.asleep()


def _update_id(update: Update | dict[str, Any]) -> int:
    return update.update_id if isinstance(update, Update) else int(update["update_id"])


def _raw_batch(data: Any) -> list[dict[str, Any]] | None:
    """The updates of a getUpdates answer that aiogram could not validate as a whole."""
    if not isinstance(data, dict) or data.get("ok") is not True:
        return None
    result = data.get("result")
    if not isinstance(result, list):
        return None
    if not all(
        isinstance(item, dict) and isinstance(item.get("update_id"), int) for item in result
    ):
        return None
    return result
