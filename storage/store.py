"""The conversation store: one ``transaction()`` gives a unit of work over every table.

Repository methods never commit; the caller's ``async with store.transaction()`` does, so a
contact, its conversation, a message link and its job are written together or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Executable, Table, bindparam, case, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import queue
from storage.db import create_reader
from storage.models import (
    Connection,
    ConnectionState,
    Contact,
    Conversation,
    Direction,
    Job,
    JobStatus,
    MessageLink,
    now,
)

T = TypeVar("T")
Operation = Callable[["UnitOfWork"], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    connection_id: str
    messages_in: int = 0
    messages_out: int = 0
    queued: int = 0
    failed: int = 0
    last_error: str | None = None


class UnitOfWork:
    """Everything one transaction may do; nothing here commits."""

    def __init__(self, session: AsyncSession, on_enqueue: Callable[[], None]) -> None:
        self.session = session
        self._on_enqueue = on_enqueue
        self._dialect = session.bind.dialect.name if session.bind else "sqlite"
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

    # -- generic helpers -------------------------------------------------------------------
    async def _insert_ignore(self, model: type[Any], values: dict[str, Any]) -> bool:
        """INSERT … ON CONFLICT DO NOTHING; True when a row was written."""
        return await self._insert_ignore_id(model, values) is not None

    async def _insert_ignore_id(self, model: type[Any], values: dict[str, Any]) -> int | None:
        """INSERT … ON CONFLICT DO NOTHING RETURNING id; None when nothing was written."""
        # Core, the values as parameters: compiled once per column set (see queue.enqueue)
        statement = _insert_ignore_statement(self._dialect, model.__table__)
        connection = await self.session.connection()
        result = await connection.execute(statement, values)
        return result.scalar_one_or_none()

    # -- connections ---------------------------------------------------------------------------
    async def connection(self, connection_id: str) -> Connection | None:
        return await self.session.get(Connection, connection_id)

    async def connection_by_scope(self, scope_id: str) -> Connection | None:
        statement = select(Connection).where(Connection.scope_id == scope_id)
        return (await self.session.execute(statement)).scalars().first()

    async def connection_by_account(self, channel: str, account_id: str) -> Connection | None:
        statement = select(Connection).where(
            Connection.channel == channel, Connection.amojo_account_id == account_id
        )
        return (await self.session.execute(statement)).scalars().first()

    async def connection_by_external(self, channel: str, external_id: str) -> Connection | None:
        statement = select(Connection).where(
            Connection.channel == channel, Connection.external_account_id == external_id
        )
        return (await self.session.execute(statement)).scalars().first()

    async def connections(self, *, active_only: bool = False) -> list[Connection]:
        statement = select(Connection).order_by(Connection.created_at)  # type: ignore[arg-type]
        if active_only:
            statement = statement.where(Connection.state == ConnectionState.ACTIVE)
        return list((await self.session.execute(statement)).scalars())

    async def save(self, row: Any) -> Any:
        if hasattr(row, "updated_at"):
            row.updated_at = now()
        self.session.add(row)
        await self.session.flush()
        return row

    async def set_connection_error(self, connection_id: str, error: str | None) -> None:
        await self.session.execute(
            update(Connection)
            .where(Connection.id == connection_id)  # type: ignore[arg-type]
            .values(last_error=error, updated_at=now())
        )

    async def set_receiver_state(
        self,
        connection_id: str,
        state: str,
        error: str | None,
        since: float,
        last_ok: float | None,
    ) -> None:
        await self.session.execute(
            update(Connection)
            .where(Connection.id == connection_id)  # type: ignore[arg-type]
            .values(
                receiver_state=state,
                receiver_error=error,
                receiver_since=since,
                receiver_last_ok=last_ok,
            )
        )

    # -- contacts and conversations ------------------------------------------------------------
    async def upsert_contact(
        self, connection_id: str, external_user_id: str, display_name: str, username: str | None
    ) -> Contact:
        statement = select(Contact).where(
            Contact.connection_id == connection_id, Contact.external_user_id == external_user_id
        )
        contact = (await self.session.execute(statement)).scalars().first()
        if contact is None:
            await self._insert_ignore(
                Contact,
                {
                    "connection_id": connection_id,
                    "external_user_id": external_user_id,
                    "display_name": display_name,
                    "username": username,
                    "created_at": now(),
                },
            )
            contact = (await self.session.execute(statement)).scalars().one()
        elif (contact.display_name, contact.username) != (display_name, username):
            contact.display_name, contact.username = display_name, username
            self.session.add(contact)
        return contact

    async def upsert_conversation(
        self,
        connection_id: str,
        external_chat_id: str,
        contact_id: int,
        amojo_conversation_id: str,
    ) -> Conversation:
        statement = select(Conversation).where(
            Conversation.connection_id == connection_id,
            Conversation.external_chat_id == external_chat_id,
        )
        conversation = (await self.session.execute(statement)).scalars().first()
        if conversation is None:
            await self._insert_ignore(
                Conversation,
                {
                    "connection_id": connection_id,
                    "external_chat_id": external_chat_id,
                    "contact_id": contact_id,
                    "amojo_conversation_id": amojo_conversation_id,
                    "created_at": now(),
                },
            )
            conversation = (await self.session.execute(statement)).scalars().one()
        return conversation

    async def set_amojo_chat_id(self, conversation_id: int, amojo_chat_id: str) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)  # type: ignore[arg-type]
            .values(amojo_chat_id=amojo_chat_id)
        )

    async def conversation(self, conversation_id: int) -> Conversation | None:
        return await self.session.get(Conversation, conversation_id)

    async def conversation_by_amojo(
        self, connection_id: str, amojo_conversation_id: str | None, amojo_chat_id: str | None
    ) -> Conversation | None:
        if amojo_conversation_id:
            statement = select(Conversation).where(
                Conversation.connection_id == connection_id,
                Conversation.amojo_conversation_id == amojo_conversation_id,
            )
            found = (await self.session.execute(statement)).scalars().first()
            if found is not None:
                return found
        if amojo_chat_id:
            statement = select(Conversation).where(
                Conversation.connection_id == connection_id,
                Conversation.amojo_chat_id == amojo_chat_id,
            )
            return (await self.session.execute(statement)).scalars().first()
        return None

    async def contact(self, contact_id: int) -> Contact | None:
        return await self.session.get(Contact, contact_id)

    # -- message links -------------------------------------------------------------------------
    async def add_message_link(self, **values: Any) -> MessageLink | None:
        """Insert a link; None when one of its unique keys already exists (a duplicate)."""
        values.setdefault("created_at", now())
        values.setdefault("updated_at", values["created_at"])
        if not await self._insert_ignore(MessageLink, values):
            return None
        key = (
            MessageLink.bridge_msgid == values["bridge_msgid"]
            if values.get("bridge_msgid")
            else MessageLink.amojo_msgid == values["amojo_msgid"]
        )
        return (await self.session.execute(select(MessageLink).where(key))).scalars().one()

    async def insert_message_link(self, **values: Any) -> int | None:
        """Like ``add_message_link`` but returns only the new id (one statement, not two)."""
        values.setdefault("created_at", now())
        values.setdefault("updated_at", values["created_at"])
        return await self._insert_ignore_id(MessageLink, values)

    async def message_link(self, link_id: int) -> MessageLink | None:
        return await self.session.get(MessageLink, link_id, populate_existing=True)

    async def link_by_amojo_msgid(self, amojo_msgid: str) -> MessageLink | None:
        statement = select(MessageLink).where(MessageLink.amojo_msgid == amojo_msgid)
        return (await self.session.execute(statement)).scalars().first()

    async def link_by_bridge_msgid(self, bridge_msgid: str) -> MessageLink | None:
        statement = select(MessageLink).where(MessageLink.bridge_msgid == bridge_msgid)
        return (await self.session.execute(statement)).scalars().first()

    async def link_by_external(
        self, conversation_id: int, external_message_id: str, direction: Direction | None = None
    ) -> MessageLink | None:
        statement = select(MessageLink).where(
            MessageLink.conversation_id == conversation_id,
            MessageLink.external_message_id == external_message_id,
        )
        if direction is not None:
            statement = statement.where(MessageLink.direction == direction)
        return (await self.session.execute(statement)).scalars().first()

    async def update_link(self, link_id: int, **values: Any) -> None:
        values["updated_at"] = now()
        table = MessageLink.__table__  # type: ignore[attr-defined]
        connection = await self.session.connection()
        await connection.execute(
            table.update().where(table.c.id == bindparam("link_id")),
            {"link_id": link_id, **values},
        )

    # -- jobs ----------------------------------------------------------------------------------
    async def waiting_jobs(self, kind: str, lock_key: str) -> list[Job]:
        """Jobs of one kind still queued behind a lock key, oldest first (a job may look at
        the work waiting behind it, e.g. the rest of an album)."""
        statement = (
            select(Job)
            .where(
                queue.ACTIVE,  # lets SQLite use the partial index on lock_key
                Job.kind == kind,
                Job.lock_key == lock_key,
                Job.status == JobStatus.TODO,
            )
            .order_by(Job.id)  # type: ignore[arg-type]
        )
        return list((await self.session.execute(statement)).scalars())

    async def enqueue(self, kind: str, payload: dict[str, Any], **options: Any) -> int | None:
        job_id = await queue.enqueue(self.session, kind, payload, **options)
        if job_id is not None:
            self._on_enqueue()
        return job_id

    async def record_failed(
        self, kind: str, payload: dict[str, Any], error: str, *, connection_id: str | None
    ) -> None:
        """Keep something that cannot be processed as a failed job, for inspection and counts."""
        job_id = await queue.enqueue(self.session, kind, payload, connection_id=connection_id)
        assert job_id is not None
        await queue.fail(self.session, job_id, error)

    async def job(self, job_id: int) -> Job | None:
        return await self.session.get(Job, job_id, populate_existing=True)

    async def jobs(
        self,
        *,
        status: JobStatus | None = None,
        kind: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Job]:
        order = Job.id.desc() if newest_first else Job.id  # type: ignore[union-attr]
        statement = select(Job).order_by(order).limit(limit)
        if status is not None:
            statement = statement.where(Job.status == status)
        if kind is not None:
            statement = statement.where(Job.kind == kind)
        return list((await self.session.execute(statement)).scalars())

    # -- reporting -----------------------------------------------------------------------------
    async def stats(self) -> dict[str, ConnectionStats]:
        links = (
            select(
                Conversation.connection_id,
                func.sum(case((MessageLink.direction == Direction.IN, 1), else_=0)),
                func.sum(case((MessageLink.direction == Direction.OUT, 1), else_=0)),
            )
            .join(Conversation, Conversation.id == MessageLink.conversation_id)  # type: ignore[arg-type]
            .group_by(Conversation.connection_id)
        )
        jobs = select(
            Job.connection_id,
            func.sum(case((Job.status.in_(["todo", "doing"]), 1), else_=0)),  # type: ignore[attr-defined]
            func.sum(case((Job.status == JobStatus.FAILED, 1), else_=0)),
        ).group_by(Job.connection_id)
        counts: dict[str, dict[str, int]] = {}
        for connection_id, n_in, n_out in await self.session.execute(links):
            counts.setdefault(connection_id, {}).update(
                messages_in=n_in or 0, messages_out=n_out or 0
            )
        for connection_id, queued, failed in await self.session.execute(jobs):
            if connection_id is not None:
                counts.setdefault(connection_id, {}).update(queued=queued or 0, failed=failed or 0)
        return {cid: ConnectionStats(cid, **values) for cid, values in counts.items()}


@functools.cache
def _insert_ignore_statement(dialect: str, table: Table) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing().returning(table.c.id)


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
        """A read-only unit of work: it never waits for the writer (nor the writer for it)."""
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
