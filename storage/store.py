"""The store: units of work over every table, for writing (``transaction``) or reading (``read``).

Repositories (``uow.connections``, ``uow.contacts``, ``uow.conversations``, ``uow.links``,
``uow.jobs``) never commit; the caller's ``async with store.transaction()`` does, so a contact,
its conversation, a message link and its job are written together or not at all.

Which to use:
- ``read()``: whatever only reads: lookups, listings, counts, the queue's next due time. It
  never takes the writer lock (nor waits for it) and on SQLite cannot write (query_only).
- ``transaction()``: whatever writes, together with the reads its writes depend on (a lookup
  then an update of what was found: read-modify-write must see what it changes).
- ``grouped()``: a short write on the hot path (receipts) that may share its commit with
  others; ``ride_along()``: the worker's completions and claims at the end of such a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_reader
from storage.models import now
from storage.repos.connections import Connections
from storage.repos.contacts import Contacts
from storage.repos.conversations import Conversations
from storage.repos.jobs import Jobs
from storage.repos.message_links import MessageLinks

R = TypeVar("R")
T = TypeVar("T")
Operation = Callable[["UnitOfWork"], Awaitable[Any]]


class UnitOfWork:
    """Everything one transaction may do, through its repositories; nothing here commits."""

    def __init__(self, session: AsyncSession, on_enqueue: Callable[[], None]) -> None:
        # Reads and writes go through the repositories below; the session itself is there
        # for a test's ad-hoc query, not for the bridge.
        self.session = session
        self.connections = Connections(session)
        self.contacts = Contacts(session)
        self.conversations = Conversations(session)
        self.links = MessageLinks(session)
        self.jobs = Jobs(session, on_enqueue)
        self.committed: list[Callable[[], None]] = []
        self.rolled_back: list[Callable[[], None]] = []
        # Set by an after-commit callback that took care of the jobs this transaction
        # enqueued (the worker claimed them in it): no one needs waking for them.
        self.caught_up = False

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this transaction is committed (never after a rollback):
        the place to fill in-memory caches with what the transaction wrote."""
        self.committed.append(callback)

    def after_rollback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` if this transaction does not commit: to undo in-memory changes
        made in the expectation that it would."""
        self.rolled_back.append(callback)

    async def save(self, row: R) -> R:
        """Write a row changed (or made) in Python, stamping its ``updated_at``."""
        if hasattr(row, "updated_at"):
            row.updated_at = now()
        self.session.add(row)
        await self.session.flush()
        return row


class Store:
    """Owns the session factory; wakes in-process workers when a job is enqueued."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._reader = create_reader(engine)
        self._read_sessions = async_sessionmaker(
            self._reader, class_=AsyncSession, expire_on_commit=False
        )
        self._listeners: list[Callable[[], None]] = []
        # SQLite has one writer at a time. Coroutines of this process take turns here;
        # left to SQLite's busy handler they would sleep in growing steps (up to 100 ms)
        # while the lock is held by a neighbour in the same process.
        self._writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._grouped: list[tuple[Operation, asyncio.Future[Any]]] = []
        self._group_task: asyncio.Task[None] | None = None
        self._riders: list[Operation] = []

    def ride_along(self, rider: Operation) -> Callable[[], None]:
        """Run ``rider`` at the end of every group commit, in its transaction; returns the
        function that stops it. The worker completes and claims jobs this way: a message's
        receipt and the claim of its job then cost one commit, not two."""
        self._riders.append(rider)
        return lambda: self._riders.remove(rider)

    def on_enqueue(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that commits on exit (rolls back on an exception). On SQLite it
        holds this process's writer lock throughout: keep it short, and read with ``read()``."""
        pending: list[bool] = []
        uow: UnitOfWork | None = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self._writer is not None:
                    await stack.enter_async_context(self._writer)
                session = await stack.enter_async_context(self._sessions())
                await stack.enter_async_context(session.begin())
                uow = UnitOfWork(session, lambda: pending.append(True))
                yield uow
        except BaseException:
            for callback in uow.rolled_back if uow is not None else ():
                callback()
            raise
        for callback in uow.committed:
            callback()
        # Workers are woken only once the jobs are committed and so visible to them.
        if pending and not uow.caught_up:
            self._notify()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[UnitOfWork]:
        """A read-only unit of work: it never waits for the writer (nor the writer for it),
        and sees what was committed when it began. For whatever only reads (see above)."""
        async with self._read_sessions() as session, session.begin():
            yield UnitOfWork(session, lambda: None)

    async def grouped(self, operation: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run ``operation`` in a transaction shared with whatever else is waiting (group commit).

        Concurrent receipts (webhook hooks, Telegram updates) would each pay for a commit and
        its fsync; here the ones that arrive while a commit is under way share the next one.
        Each runs in its own savepoint, so one that fails leaves the others intact, and they
        run in the order they were submitted (a chat's messages keep their order).
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._grouped.append((operation, future))
        if self._group_task is None or self._group_task.done():
            self._group_task = asyncio.create_task(self._drain_grouped())
        return await future

    async def _drain_grouped(self) -> None:
        while self._grouped:
            batch, self._grouped = self._grouped, []
            try:
                results = []
                async with self.transaction() as uow:
                    for operation, _ in batch:
                        results.append(await operation(uow))
                    for rider in list(self._riders):
                        await rider(uow)
            except Exception:  # noqa: BLE001 - retried one by one below
                # One of them failed and the shared transaction is gone: run each alone, so
                # only the one at fault fails (rare: the common path pays no savepoints).
                for operation, future in batch:
                    await self._run_alone(operation, future)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _run_alone(self, operation: Operation, future: asyncio.Future[Any]) -> None:
        try:
            async with self.transaction() as uow:
                result = await operation(uow)
        except Exception as error:  # noqa: BLE001 - handed to its caller
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(result)

    async def ping(self) -> None:
        async with self._sessions() as session:
            await session.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._reader is not self.engine:
            await self._reader.dispose()
        await self.engine.dispose()
