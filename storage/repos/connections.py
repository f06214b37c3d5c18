"""Connected messenger accounts, and the per-connection counts the admin pages show."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import (
    Connection,
    ConnectionState,
    Conversation,
    Direction,
    Job,
    JobStatus,
    MessageLink,
    now,
)


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    connection_id: str
    messages_in: int = 0
    messages_out: int = 0
    queued: int = 0
    failed: int = 0
    last_error: str | None = None


class ScopeBinding(NamedTuple):
    """What a hook's receipt needs of its scope's active connection."""

    connection_id: str
    account_id: str


# Read for every hook, inside its receipt's transaction: two columns by a Core statement built
# once (an ORM select of the whole row cost ~0.3 ms of Python each time).
_ACTIVE_BY_SCOPE = select(col(Connection.id), col(Connection.amojo_account_id)).where(
    col(Connection.scope_id) == bindparam("scope_id"),
    col(Connection.state) == ConnectionState.ACTIVE.value,
)


class Connections:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, connection_id: str) -> Connection | None:
        return await self._session.get(Connection, connection_id)

    async def by_scope(self, scope_id: str) -> Connection | None:
        statement = select(Connection).where(col(Connection.scope_id) == scope_id)
        return (await self._session.execute(statement)).scalars().first()

    async def active_by_scope(self, scope_id: str) -> ScopeBinding | None:
        """The active connection a scope belongs to, if any."""
        connection = await self._session.connection()
        row = (await connection.execute(_ACTIVE_BY_SCOPE, {"scope_id": scope_id})).first()
        return None if row is None else ScopeBinding(row[0], row[1])

    async def by_account(self, channel: str, account_id: str) -> Connection | None:
        statement = select(Connection).where(
            col(Connection.channel) == channel, col(Connection.amojo_account_id) == account_id
        )
        return (await self._session.execute(statement)).scalars().first()

    async def by_external(self, channel: str, external_id: str) -> Connection | None:
        statement = select(Connection).where(
            col(Connection.channel) == channel, col(Connection.external_account_id) == external_id
        )
        return (await self._session.execute(statement)).scalars().first()

    async def list(self, *, active_only: bool = False) -> builtins.list[Connection]:
        statement = select(Connection).order_by(col(Connection.created_at))
        if active_only:
            statement = statement.where(col(Connection.state) == ConnectionState.ACTIVE)
        return [*(await self._session.execute(statement)).scalars()]

    async def set_error(self, connection_id: str, error: str | None) -> None:
        await self._session.execute(
            update(Connection)
            .where(col(Connection.id) == connection_id)
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
        """What the serving process's receiver for this connection is doing, for ``status``
        (which runs in another process and cannot ask the receiver itself)."""
        await self._session.execute(
            update(Connection)
            .where(col(Connection.id) == connection_id)
            .values(
                receiver_state=state,
                receiver_error=error,
                receiver_since=since,
                receiver_last_ok=last_ok,
            )
        )

    async def stats(self) -> dict[str, ConnectionStats]:
        """Messages each way and jobs queued/failed, by connection."""
        links = (
            select(
                col(Conversation.connection_id),
                func.sum(case((col(MessageLink.direction) == Direction.IN, 1), else_=0)),
                func.sum(case((col(MessageLink.direction) == Direction.OUT, 1), else_=0)),
            )
            .join(Conversation, col(Conversation.id) == col(MessageLink.conversation_id))
            .group_by(col(Conversation.connection_id))
        )
        jobs = select(
            col(Job.connection_id),
            func.sum(case((col(Job.status).in_(["todo", "doing"]), 1), else_=0)),
            func.sum(case((col(Job.status) == JobStatus.FAILED, 1), else_=0)),
        ).group_by(col(Job.connection_id))
        counts: dict[str, dict[str, int]] = {}
        for connection_id, n_in, n_out in await self._session.execute(links):
            counts.setdefault(connection_id, {}).update(
                messages_in=n_in or 0, messages_out=n_out or 0
            )
        for job_connection, queued, failed in await self._session.execute(jobs):
            if job_connection is not None:
                counts.setdefault(job_connection, {}).update(
                    queued=queued or 0, failed=failed or 0
                )
        return {
            cid: ConnectionStats(
                cid,
                messages_in=values.get("messages_in", 0),
                messages_out=values.get("messages_out", 0),
                queued=values.get("queued", 0),
                failed=values.get("failed", 0),
            )
            for cid, values in counts.items()
        }
