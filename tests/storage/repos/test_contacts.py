"""The contacts repository over SQLite and PostgreSQL."""

from __future__ import annotations

from storage import Store
from tests.storage.rows import add_connection


async def test_upsert_contact_creates_once_then_follows_renames(store: Store) -> None:
    await add_connection(store)
    async with store.transaction() as uow:
        first = await uow.contacts.upsert("c1", "u1", "Ann", None)
    async with store.transaction() as uow:
        same = await uow.contacts.upsert("c1", "u1", "Ann", None)
        renamed = await uow.contacts.upsert("c1", "u1", "Anna", "anna")
    assert first.id is not None and same.id == first.id == renamed.id
    async with store.read() as uow:
        row = await uow.contacts.get(first.id)
    assert row is not None and (row.display_name, row.username) == ("Anna", "anna")
