"""The connections repository over SQLite and PostgreSQL: lookups, errors and counts."""

from __future__ import annotations

from storage import ConnectionStats, Store
from storage.models import ConnectionState, Direction
from tests.storage.rows import add_connection, add_conversation


async def test_a_connection_is_found_by_id_scope_account_and_bot(store: Store) -> None:
    await add_connection(store, "c1")
    await add_connection(store, "c2")
    async with store.read() as uow:
        assert (c := await uow.connections.get("c2")) is not None and c.id == "c2"
        assert (c := await uow.connections.by_scope("scope-c1")) is not None and c.id == "c1"
        found = await uow.connections.by_account("telegram", "account-c2")
        assert found is not None and found.id == "c2"
        found = await uow.connections.by_external("telegram", "bot-c1")
        assert found is not None and found.id == "c1"
        assert await uow.connections.get("c3") is None
        assert await uow.connections.by_scope("scope-c3") is None
        assert await uow.connections.by_account("other-channel", "account-c1") is None
        assert await uow.connections.by_external("other-channel", "bot-c1") is None


async def test_list_keeps_creation_order_and_filters_active_ones(store: Store) -> None:
    await add_connection(store, "b")
    await add_connection(store, "a", state=ConnectionState.DISCONNECTED)
    await add_connection(store, "c")
    async with store.read() as uow:
        assert [c.id for c in await uow.connections.list()] == ["b", "a", "c"]
        assert [c.id for c in await uow.connections.list(active_only=True)] == ["b", "c"]


async def test_set_error_records_and_clears_the_last_error(store: Store) -> None:
    before = await add_connection(store)
    async with store.transaction() as uow:
        await uow.connections.set_error("c1", "bot token revoked")
    async with store.read() as uow:
        row = await uow.connections.get("c1")
    assert row is not None and row.last_error == "bot token revoked"
    assert row.updated_at >= before.updated_at
    async with store.transaction() as uow:
        await uow.connections.set_error("c1", None)
    async with store.read() as uow:
        row = await uow.connections.get("c1")
    assert row is not None and row.last_error is None


async def test_stats_count_messages_each_way_and_jobs_by_connection(store: Store) -> None:
    await add_connection(store, "c1")
    await add_connection(store, "c2")
    _, conversation = await add_conversation(store, "c1", "chat")
    async with store.transaction() as uow:
        for n, direction in enumerate([Direction.IN, Direction.IN, Direction.OUT]):
            await uow.links.insert(
                conversation_id=conversation, direction=direction, amojo_msgid=f"m{n}"
            )
        await uow.jobs.enqueue("k", {}, connection_id="c1")
        await uow.jobs.enqueue("k", {}, connection_id="c2")
        await uow.jobs.record_failed("k", {}, "dead", connection_id="c2")
        await uow.jobs.enqueue("k", {})  # no connection: counted nowhere
    async with store.read() as uow:
        stats = await uow.connections.stats()
    assert stats == {
        "c1": ConnectionStats("c1", messages_in=2, messages_out=1, queued=1, failed=0),
        "c2": ConnectionStats("c2", queued=1, failed=1),
    }
