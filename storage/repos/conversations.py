"""Conversations: a messenger chat ↔ its amoCRM conversation (and chat, once known)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import dialect
from storage.models import Conversation, now


class Conversations:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, conversation_id: int) -> Conversation | None:
        return await self._session.get(Conversation, conversation_id)

    async def upsert(
        self,
        connection_id: str,
        external_chat_id: str,
        contact_id: int,
        amojo_conversation_id: str,
    ) -> Conversation:
        """The conversation of a chat, created if new (a concurrent creator's row wins)."""
        statement = select(Conversation).where(
            col(Conversation.connection_id) == connection_id,
            col(Conversation.external_chat_id) == external_chat_id,
        )
        conversation = (await self._session.execute(statement)).scalars().first()
        if conversation is None:
            insert = dialect.insert_ignore_returning_id(
                dialect.of(self._session),
                Conversation.__table__,  # type: ignore[attr-defined]
            )
            values = {
                "connection_id": connection_id,
                "external_chat_id": external_chat_id,
                "contact_id": contact_id,
                "amojo_conversation_id": amojo_conversation_id,
                "created_at": now(),
            }
            await (await self._session.connection()).execute(insert, values)
            conversation = (await self._session.execute(statement)).scalars().one()
        return conversation

    async def by_amojo(
        self, connection_id: str, amojo_conversation_id: str | None, amojo_chat_id: str | None
    ) -> Conversation | None:
        """By amoCRM's conversation id, else by its chat id (hooks carry one or both)."""
        if amojo_conversation_id:
            statement = select(Conversation).where(
                col(Conversation.connection_id) == connection_id,
                col(Conversation.amojo_conversation_id) == amojo_conversation_id,
            )
            found = (await self._session.execute(statement)).scalars().first()
            if found is not None:
                return found
        if amojo_chat_id:
            statement = select(Conversation).where(
                col(Conversation.connection_id) == connection_id,
                col(Conversation.amojo_chat_id) == amojo_chat_id,
            )
            return (await self._session.execute(statement)).scalars().first()
        return None

    async def set_amojo_chat_id(self, conversation_id: int, amojo_chat_id: str) -> None:
        await self._session.execute(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(amojo_chat_id=amojo_chat_id)
        )
