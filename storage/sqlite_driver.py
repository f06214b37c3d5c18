"""An asyncio face on ``sqlite3`` for SQLAlchemy's aiosqlite dialect, without a thread per call.

aiosqlite runs every call (execute, fetch, commit, rollback) in its connection's own thread and
wakes the event loop when it is done: ~150 µs per call under uvloop, where the call itself
takes 2-20 µs. A read transaction made of five such calls cost 1.1 ms; the hand-offs, not
SQLite, were a fifth of the bridge's time under load.

Here a statement runs on the event loop's thread, as a coroutine that never suspends, so
SQLAlchemy's ``await_`` gets its answer at once. What can take long goes elsewhere:

- ``commit`` waits for the ``fsync`` of the WAL: it runs in the default executor, and the loop
  goes on meanwhile;
- a WAL checkpoint (copying committed pages back into the database file, with its own
  ``fsync``) runs in a thread of its own, twice a second, instead of inside whichever commit
  crosses SQLite's 1,000-page mark;
- a statement that finds the database locked by another process (``amo-bridge connect`` from
  a shell, say) is not left to SQLite's busy handler, which would block the loop: the
  connection's busy timeout is zero and the statement is tried again after an asyncio sleep,
  for up to ``busy_timeout`` seconds. A statement refused with SQLITE_BUSY had no effect, so
  trying it again is safe.

Plugged in through ``create_async_engine(async_creator=...)``, which SQLAlchemy documents for
handing it a driver connection of one's own; the dialect and everything above it stay as they
are. One connection is used by one task at a time (the pool sees to that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar

BUSY_BACKOFF = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)  # seconds, then the last one again
SLOW_STATEMENT = 0.1  # seconds; a statement this slow held up the whole event loop

log = logging.getLogger(__name__)


def _locked(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    ) or "database is locked" in str(error)


async def _patiently(
    call: Callable[[], Any], busy_timeout: float, *, awaited: bool = False
) -> Any:
    """``call()`` now (and its result awaited, if ``awaited``); while the database is locked
    by someone else, again a little later."""
    deadline: float | None = None
    attempt = 0
    while True:
        try:
            result = call()
            return (await result) if awaited else result
        except sqlite3.OperationalError as error:
            if not _locked(error):
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + busy_timeout
            if now >= deadline:
                raise
            await asyncio.sleep(BUSY_BACKOFF[min(attempt, len(BUSY_BACKOFF) - 1)])
            attempt += 1


class InlineCursor:
    """The aiosqlite cursor API over a ``sqlite3.Cursor``, run on the calling thread."""

    def __init__(self, cursor: sqlite3.Cursor, busy_timeout: float) -> None:
        self._cursor = cursor
        self._busy_timeout = busy_timeout

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        run = self._cursor.execute
        started = time.perf_counter()
        await _patiently(lambda: run(sql, parameters or ()), self._busy_timeout)
        took = time.perf_counter() - started
        if took > SLOW_STATEMENT:
            # Everything else in the process waited this long: worth an operator's look.
            log.warning("slow SQLite statement (%.0f ms): %.200s", took * 1000, sql.strip())
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        rows = list(parameters)  # tried again when locked: an iterator would be used up
        await _patiently(lambda: self._cursor.executemany(sql, rows), self._busy_timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: object) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """The aiosqlite connection API that SQLAlchemy's adapter uses, over ``sqlite3``."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        busy_timeout: float,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._busy_timeout = busy_timeout
        self._on_close = on_close

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open().cursor(), self._busy_timeout)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        # The fsync of the WAL (0.3-1.5 ms here) in the default executor: under load the loop
        # serves other requests meanwhile (measured: +16% outbound, +15% inbound throughput
        # against committing on the loop's thread). A reader has nothing to commit: no hop.
        connection = self._open()
        if not connection.in_transaction:
            return
        loop = asyncio.get_running_loop()
        await _patiently(
            lambda: loop.run_in_executor(None, connection.commit), self._busy_timeout, awaited=True
        )

    async def rollback(self) -> None:
        self._open().rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            if self._on_close is not None:
                self._on_close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)


class Checkpointer:
    """Copies the WAL back into the database file from a thread, so that no commit on the
    loop's thread does it (SQLite's automatic checkpoint, every 1,000 pages, would stall the
    loop for milliseconds). One per database file, while connections to it are open."""

    INTERVAL = 0.5  # seconds between checkpoints

    _open: ClassVar[dict[str, Checkpointer]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: str) -> None:
        self._path = path
        self._users = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sqlite-checkpoint {path}", daemon=True
        )

    @classmethod
    def acquire(cls, path: str) -> None:
        with cls._guard:
            checkpointer = cls._open.get(path)
            if checkpointer is None:
                checkpointer = cls._open[path] = Checkpointer(path)
                checkpointer._thread.start()
            checkpointer._users += 1

    @classmethod
    def release(cls, path: str) -> None:
        with cls._guard:
            checkpointer = cls._open.get(path)
            if checkpointer is None:
                return
            checkpointer._users -= 1
            if checkpointer._users <= 0:
                del cls._open[path]
                checkpointer._stop.set()

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, timeout=0, check_same_thread=False)
        try:
            while not self._stop.wait(self.INTERVAL):
                # PASSIVE: copies what no reader still needs, never waits for anyone
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()


def connector(
    path: str, *, busy_timeout: float = 30.0, writer: bool = True
) -> Callable[[], Awaitable[Any]]:
    """The ``async_creator`` for ``create_async_engine``: opens ``path`` in autocommit mode
    (transactions are begun explicitly: see ``storage.db``). A writer's connections leave
    checkpoints to the ``Checkpointer`` (a file database only)."""
    checkpointed = writer and path != ":memory:"

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(
            path, timeout=0, isolation_level=None, check_same_thread=False
        )
        if not checkpointed:
            return InlineConnection(connection, busy_timeout)
        connection.execute("PRAGMA wal_autocheckpoint=0")
        Checkpointer.acquire(path)
        return InlineConnection(connection, busy_timeout, lambda: Checkpointer.release(path))

    return connect
