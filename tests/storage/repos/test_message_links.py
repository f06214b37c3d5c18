"""The message links repository over SQLite and PostgreSQL: one link per message, found by
any of its three ids."""

from __future__ import annotations

from storage import Store
from storage.models import DeliveryStatus, Direction
from tests.storage.rows import add_connection, add_conversation


async def conversation(store: Store) -> int:
    await add_connection(store)
    return (await add_conversation(store, "c1", "chat"))[1]


async def test_insert_returns_the_id_and_none_for_a_duplicate_of_any_key(store: Store) -> None:
    chat = await conversation(store)
    async with store.transaction() as uow:
        link = await uow.links.insert(
            conversation_id=chat,
            direction=Direction.IN,
            external_message_id="7",
            bridge_msgid="b7",
        )
        assert link is not None
        same_message = await uow.links.insert(
            conversation_id=chat, direction=Direction.IN, external_message_id="7"
        )
        same_msgid = await uow.links.insert(
            conversation_id=chat, direction=Direction.OUT, bridge_msgid="b7"
        )
        other_way = await uow.links.insert(
            conversation_id=chat, direction=Direction.OUT, external_message_id="7"
        )
    assert (same_message, same_msgid) == (None, None)
    assert other_way is not None and other_way != link


async def test_add_returns_the_row_or_none_for_a_duplicate(store: Store) -> None:
    chat = await conversation(store)
    async with store.transaction() as uow:
        row = await uow.links.add(conversation_id=chat, direction=Direction.OUT, amojo_msgid="a1")
        assert row is not None and row.id is not None
        assert (row.amojo_msgid, row.status) == ("a1", DeliveryStatus.QUEUED)
        assert row.created_at == row.updated_at
        assert (
            await uow.links.add(conversation_id=chat, direction=Direction.OUT, amojo_msgid="a1")
            is None
        )


async def test_a_link_is_found_by_each_of_its_ids(store: Store) -> None:
    chat = await conversation(store)
    async with store.transaction() as uow:
        link = await uow.links.insert(
            conversation_id=chat,
            direction=Direction.IN,
            external_message_id="7",
            amojo_msgid="a7",
            bridge_msgid="b7",
        )
    async with store.read() as uow:
        found = [
            await uow.links.get(link or 0),
            await uow.links.by_amojo_msgid("a7"),
            await uow.links.by_bridge_msgid("b7"),
            await uow.links.by_external(chat, "7"),
            await uow.links.by_external(chat, "7", Direction.IN),
        ]
        assert [row.id if row else None for row in found] == [link] * 5
        assert await uow.links.by_external(chat, "7", Direction.OUT) is None
        assert await uow.links.by_amojo_msgid("b7") is None
        assert await uow.links.by_bridge_msgid("a7") is None


async def test_update_changes_the_given_fields_and_the_update_time(store: Store) -> None:
    chat = await conversation(store)
    async with store.transaction() as uow:
        link = await uow.links.insert(
            conversation_id=chat, direction=Direction.OUT, amojo_msgid="a1", created_at=1.0
        )
        assert link is not None
        await uow.links.update(link, status=DeliveryStatus.FAILED, last_error="blocked")
        row = await uow.links.get(link)
    assert row is not None
    assert (row.status, row.last_error, row.amojo_msgid) == (
        DeliveryStatus.FAILED,
        "blocked",
        "a1",
    )
    assert row.created_at == 1.0 and row.updated_at > 1.0
