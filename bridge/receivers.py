"""Receiver health, written to the connection rows for ``amo-bridge status`` (another process).

The adapters keep their receivers' state in memory (``Channel.receivers()``); this loop copies
it to the store when it changes, and the time of the last successful poll at most every
``REFRESH`` seconds: never once per poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bridge.channel import ChannelRegistry, ReceiverHealth
from storage import Store

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between looks at the receivers (in memory: cheap)
REFRESH = 5.0  # seconds between writes of an unchanged state's last-poll time


class ReceiverMonitor:
    def __init__(self, store: Store, channels: ChannelRegistry) -> None:
        self._store = store
        self._channels = channels
        # per connection: (state, error, since), its last_ok, when written (monotonic)
        self._written: dict[str, tuple[tuple[object, ...], float | None, float]] = {}
        self._task: asyncio.Task[None] | None = None

    def receivers(self) -> list[ReceiverHealth]:
        return [health for channel in self._channels.built() for health in channel.receivers()]

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="receiver-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the database may be down for a while
                log.warning("recording receiver state failed: %s", type(error).__name__)
            await asyncio.sleep(CHECK_EVERY)

    async def flush(self) -> None:
        """Write what changed (and last-poll times older than REFRESH in the store)."""
        now = time.monotonic()
        due: list[ReceiverHealth] = []
        for health in self.receivers():
            key = (health.state, health.last_error, health.since)
            written = self._written.get(health.connection_id)
            if (
                written is None
                or written[0] != key
                or (written[1] != health.last_ok and now - written[2] >= REFRESH)
            ):
                due.append(health)
        if not due:
            return
        async with self._store.transaction() as uow:
            for health in due:
                await uow.connections.set_receiver_state(
                    health.connection_id,
                    health.state.value,
                    health.last_error,
                    health.since,
                    health.last_ok,
                )
        for health in due:
            key = (health.state, health.last_error, health.since)
            self._written[health.connection_id] = (key, health.last_ok, now)
