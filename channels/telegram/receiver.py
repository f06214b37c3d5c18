"""Long polling that never loses an update: the offset moves only after the sink stored it.

aiogram's ``start_polling`` confirms a batch before its handlers finish, so a crash there
loses messages; this loop asks for updates, hands each to the sink, and only then confirms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

from bridge.ids import ConnectionId
from channels.telegram.handlers import ALLOWED_UPDATES

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25
BACKOFF = BackoffConfig(min_delay=0.5, max_delay=30.0, factor=2.0, jitter=0.1)


class PollingReceiver:
    def __init__(
        self,
        bot: Bot,
        connection_id: ConnectionId,
        handle: Callable[[Update], Awaitable[None]],
        on_error: Callable[[str | None], Awaitable[None]] | None = None,
        poll_timeout: int = POLL_TIMEOUT,
    ) -> None:
        self._bot = bot
        self._connection_id = connection_id
        self._handle = handle
        self._on_error = on_error
        self._poll_timeout = poll_timeout
        self._offset: int | None = None
        self._stopping = False
        self._handling = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"poll-{self._connection_id}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is None:
            return
        if not self._handling:
            self._task.cancel()  # only a getUpdates wait is interrupted; nothing is lost
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._confirm()

    async def _confirm(self) -> None:
        """Tell Telegram what we stored, so a restart does not fetch it again (dedup would
        drop it anyway; this only saves work)."""
        if self._offset is None:
            return
        with contextlib.suppress(Exception):
            await self._bot(GetUpdates(offset=self._offset, limit=1, timeout=0), request_timeout=5)

    async def _report(self, error: str | None) -> None:
        if self._on_error is not None:
            with contextlib.suppress(Exception):
                await self._on_error(error)

    async def _run(self) -> None:
        backoff = Backoff(BACKOFF)
        failing = False
        while not self._stopping:
            try:
                updates = await self._bot(
                    GetUpdates(
                        offset=self._offset,
                        timeout=self._poll_timeout,
                        allowed_updates=ALLOWED_UPDATES,
                    ),
                    request_timeout=self._poll_timeout + 15,
                )
            except asyncio.CancelledError:
                raise
            except TelegramUnauthorizedError:
                log.error(
                    "bot token rejected by Telegram; polling paused",
                    extra={"connection_id": self._connection_id},
                )
                await self._report("Telegram rejected the bot token (Unauthorized)")
                await backoff.asleep()
                continue
            except (TelegramAPIError, OSError, TimeoutError) as error:
                log.warning(
                    "getUpdates failed: %s",
                    type(error).__name__,
                    extra={"connection_id": self._connection_id},
                )
                failing = True
                await backoff.asleep()
                continue
            if failing:
                failing = False
                await self._report(None)
            backoff.reset()
            if updates and not await self._deliver(updates, backoff):
                return

    async def _deliver(self, updates: list[Update], backoff: Backoff) -> bool:
        """Hand a batch to the sink until all of it is stored; False when stopping first.

        The updates are handed over together, in order, so the store can commit them at
        once; if any fails the whole batch is handed over again (storing is idempotent).
        """
        while True:
            self._handling = True
            try:
                results = await asyncio.gather(
                    *(self._handle(update) for update in updates), return_exceptions=True
                )
            finally:
                self._handling = False
            failures = [r for r in results if isinstance(r, BaseException)]
            if not failures:
                self._offset = updates[-1].update_id + 1
                return True
            log.error(
                "storing %d of %d updates failed (%s); will retry them",
                len(failures),
                len(updates),
                failures[0],
                extra={"connection_id": self._connection_id},
            )
            if self._stopping:
                return False
            await backoff.asleep()
