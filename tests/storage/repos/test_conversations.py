"""The conversations repository over SQLite and PostgreSQL."""

from __future__ import annotations

from storage import Store
from tests.storage.rows import add_connection, add_conversation


async def test_upsert_conversation_returns_the_existing_one(store: Store) -> None:
    await add_connection(store)
    contact, conversation = await add_conversation(store, "c1", "chat-1")
    async with store.transaction() as uow:
        again = await uow.conversations.upsert("c1", "chat-1", contact, "another-id")
    assert again.id == conversation and again.amojo_conversation_id == "conv-chat-1"
    async with store.read() as uow:
        row = await uow.conversations.get(conversation)
    assert row is not None and (row.external_chat_id, row.contact_id) == ("chat-1", contact)


async def test_by_amojo_finds_by_conversation_id_else_by_chat_id(store: Store) -> None:
    await add_connection(store, "c1")
    await add_connection(store, "c2")
    _, conversation = await add_conversation(store, "c1", "chat-1")
    async with store.transaction() as uow:
        await uow.conversations.set_amojo_chat_id(conversation, "amo-chat")
    async with store.read() as uow:
        by_id = await uow.conversations.by_amojo("c1", "conv-chat-1", None)
        by_chat = await uow.conversations.by_amojo("c1", "unknown", "amo-chat")
        assert by_id is not None and by_id.id == conversation
        assert by_chat is not None and by_chat.id == conversation
        assert by_chat.amojo_chat_id == "amo-chat"
        assert await uow.conversations.by_amojo("c2", "conv-chat-1", "amo-chat") is None
        assert await uow.conversations.by_amojo("c1", None, None) is None
        assert await uow.conversations.get(conversation + 1000) is None
