"""The customers behind conversations, one per messenger user and connection."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import dialect
from storage.models import Contact, now


class Contacts:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, contact_id: int) -> Contact | None:
        return await self._session.get(Contact, contact_id)

    async def upsert(
        self, connection_id: str, external_user_id: str, display_name: str, username: str | None
    ) -> Contact:
        """The contact, created if new (a concurrent creator's row wins) or renamed."""
        statement = select(Contact).where(
            col(Contact.connection_id) == connection_id,
            col(Contact.external_user_id) == external_user_id,
        )
        contact = (await self._session.execute(statement)).scalars().first()
        if contact is None:
            insert = dialect.insert_ignore_returning_id(
                dialect.of(self._session),
                Contact.__table__,  # type: ignore[attr-defined]
            )
            values = {
                "connection_id": connection_id,
                "external_user_id": external_user_id,
                "display_name": display_name,
                "username": username,
                "created_at": now(),
            }
            await (await self._session.connection()).execute(insert, values)
            contact = (await self._session.execute(statement)).scalars().one()
        elif (contact.display_name, contact.username) != (display_name, username):
            contact.display_name, contact.username = display_name, username
            self._session.add(contact)
        return contact
