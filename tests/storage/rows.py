"""Rows the repository tests build on."""

from __future__ import annotations

from storage import Store
from storage.models import Connection, ConnectionState


async def add_connection(
    store: Store, name: str = "c1", *, state: ConnectionState = ConnectionState.ACTIVE
) -> Connection:
    async with store.transaction() as uow:
        return await uow.save(
            Connection(
                id=name,
                channel="telegram",
                amojo_account_id=f"account-{name}",
                scope_id=f"scope-{name}",
                external_account_id=f"bot-{name}",
                token_encrypted="sealed",
                webhook_secret_encrypted="sealed",
                state=state,
            )
        )


async def add_conversation(store: Store, connection_id: str, chat: str) -> tuple[int, int]:
    """A contact and its conversation: (contact id, conversation id)."""
    async with store.transaction() as uow:
        contact = await uow.contacts.upsert(connection_id, f"user-{chat}", "Ann", None)
        assert contact.id is not None
        conversation = await uow.conversations.upsert(
            connection_id, chat, contact.id, f"conv-{chat}"
        )
        assert conversation.id is not None
        return contact.id, conversation.id
