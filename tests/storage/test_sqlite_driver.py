"""SQLite statements run on the event loop's thread, yet a lock held elsewhere never blocks it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Store
from storage.db import create_engine
from storage.migrate import upgrade_to_head


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[tuple[Store, Path]]:
    path = tmp_path / "store.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_to_head(engine)
    store = Store(engine)
    try:
        yield store, path
    finally:
        await store.close()


async def test_a_write_waits_for_another_process_lock_while_the_loop_goes_on(
    sqlite_store: tuple[Store, Path],
) -> None:
    store, path = sqlite_store
    other = sqlite3.connect(path, isolation_level=None)  # stands for `amo-bridge connect`
    other.execute("BEGIN IMMEDIATE")  # holds the write lock

    async def write() -> int | None:
        async with store.transaction() as uow:
            return await uow.jobs.enqueue("k", {"n": 1})

    writer = asyncio.create_task(write())
    # SQLite's own busy handler would block this thread until the lock is gone, and the lock
    # is released below, on this same thread: the reads would never run.
    for _ in range(20):
        async with store.read() as uow:
            assert await uow.jobs.list() == []
    assert not writer.done()
    other.execute("COMMIT")
    other.close()
    job_id = await asyncio.wait_for(writer, 10)
    assert job_id is not None
    async with store.read() as uow:
        assert [job.id for job in await uow.jobs.list()] == [job_id]


async def test_a_lock_held_past_the_busy_timeout_fails_the_write(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout=0.2)
    await upgrade_to_head(engine)
    store = Store(engine)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception, match="database is locked"):
            async with store.transaction() as uow:
                await uow.jobs.enqueue("k", {"n": 1})
    finally:
        other.execute("ROLLBACK")
        other.close()
        await store.close()
