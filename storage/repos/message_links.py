"""Message links: one message known on both sides (messenger id ↔ amoCRM id ↔ our msgid)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import dialect
from storage.models import Direction, MessageLink, now

_TABLE = MessageLink.__table__  # type: ignore[attr-defined]
# Core, compiled once: the ORM update costs more Python than the statement takes to run.
_UPDATE = _TABLE.update().where(_TABLE.c.id == bindparam("link_id"))


class MessageLinks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert(self, **values: Any) -> int | None:
        """Insert a link and return its id; None when one of its unique keys already exists
        (a duplicate). One statement."""
        values.setdefault("created_at", now())
        values.setdefault("updated_at", values["created_at"])
        statement = dialect.insert_ignore_returning_id(dialect.of(self._session), _TABLE)
        result = await (await self._session.connection()).execute(statement, values)
        inserted: int | None = result.scalar_one_or_none()
        return inserted

    async def add(self, **values: Any) -> MessageLink | None:
        """Like ``insert`` but returns the row (a second statement)."""
        if await self.insert(**values) is None:
            return None
        key = (
            col(MessageLink.bridge_msgid) == values["bridge_msgid"]
            if values.get("bridge_msgid")
            else col(MessageLink.amojo_msgid) == values["amojo_msgid"]
        )
        return (await self._session.execute(select(MessageLink).where(key))).scalars().one()

    async def get(self, link_id: int) -> MessageLink | None:
        return await self._session.get(MessageLink, link_id, populate_existing=True)

    async def by_amojo_msgid(self, amojo_msgid: str) -> MessageLink | None:
        statement = select(MessageLink).where(col(MessageLink.amojo_msgid) == amojo_msgid)
        return (await self._session.execute(statement)).scalars().first()

    async def by_bridge_msgid(self, bridge_msgid: str) -> MessageLink | None:
        statement = select(MessageLink).where(col(MessageLink.bridge_msgid) == bridge_msgid)
        return (await self._session.execute(statement)).scalars().first()

    async def by_external(
        self, conversation_id: int, external_message_id: str, direction: Direction | None = None
    ) -> MessageLink | None:
        statement = select(MessageLink).where(
            col(MessageLink.conversation_id) == conversation_id,
            col(MessageLink.external_message_id) == external_message_id,
        )
        if direction is not None:
            statement = statement.where(col(MessageLink.direction) == direction)
        return (await self._session.execute(statement)).scalars().first()

    async def update(self, link_id: int, **values: Any) -> None:
        values["updated_at"] = now()
        connection = await self._session.connection()
        await connection.execute(_UPDATE, {"link_id": link_id, **values})
