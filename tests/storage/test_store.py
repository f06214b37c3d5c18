"""The store over SQLite and PostgreSQL: what a transaction, a read, a group commit and a
rider each see and write."""

from __future__ import annotations

import asyncio

import pytest

from storage import Store, UnitOfWork
from storage.models import JobStatus
from tests.storage.rows import add_connection


async def kinds(store: Store) -> list[str]:
    async with store.read() as uow:
        return [job.kind for job in await uow.jobs.list()]


async def test_a_transaction_commits_on_exit_then_runs_its_after_commit_callbacks(
    store: Store,
) -> None:
    events: list[str] = []
    async with store.transaction() as uow:
        await uow.jobs.enqueue("a", {})
        uow.after_commit(lambda: events.append("committed"))
        uow.after_rollback(lambda: events.append("rolled back"))
        assert events == []
    assert events == ["committed"]
    assert await kinds(store) == ["a"]


async def test_a_transaction_that_raises_writes_nothing_and_runs_its_rollback_callbacks(
    store: Store,
) -> None:
    events: list[str] = []
    woken: list[int] = []
    store.on_enqueue(lambda: woken.append(1))
    with pytest.raises(RuntimeError):
        async with store.transaction() as uow:
            await uow.jobs.enqueue("a", {})
            uow.after_commit(lambda: events.append("committed"))
            uow.after_rollback(lambda: events.append("rolled back"))
            raise RuntimeError("boom")
    assert events == ["rolled back"]
    assert woken == []
    assert await kinds(store) == []


async def test_a_read_neither_waits_for_an_open_transaction_nor_sees_its_writes(
    store: Store,
) -> None:
    async with store.transaction() as uow:
        await uow.jobs.enqueue("uncommitted", {})
        # On SQLite the transaction holds the writer lock: a read that took it would never
        # get here (the timeout turns that into a failure).
        async with asyncio.timeout(5):
            assert await kinds(store) == []
    assert await kinds(store) == ["uncommitted"]


async def test_a_caught_up_transaction_wakes_no_one(store: Store) -> None:
    woken: list[int] = []
    store.on_enqueue(lambda: woken.append(1))
    async with store.transaction() as uow:
        await uow.jobs.enqueue("a", {})

        def claimed_already() -> None:
            uow.caught_up = True

        uow.after_commit(claimed_already)
    assert woken == []


async def test_grouped_operations_share_one_commit_and_keep_their_order(store: Store) -> None:
    commits: list[int] = []

    async def rider(uow: UnitOfWork) -> None:
        commits.append(1)

    store.ride_along(rider)

    async def add(kind: str) -> int | None:
        return await store.grouped(lambda uow: uow.jobs.enqueue(kind, {}))

    ids = await asyncio.gather(add("a"), add("b"), add("c"))
    assert commits == [1]
    assert ids == sorted(ids) and None not in ids
    assert await kinds(store) == ["a", "b", "c"]


async def test_a_failing_grouped_operation_fails_alone(store: Store) -> None:
    async def broken(uow: UnitOfWork) -> None:
        await uow.jobs.enqueue("broken", {})
        raise ValueError("bad input")

    results = await asyncio.gather(
        store.grouped(lambda uow: uow.jobs.enqueue("a", {})),
        store.grouped(broken),
        store.grouped(lambda uow: uow.jobs.enqueue("b", {})),
        return_exceptions=True,
    )
    assert isinstance(results[1], ValueError)
    assert await kinds(store) == ["a", "b"]


async def test_a_rider_writes_in_the_group_commit_until_stopped(store: Store) -> None:
    async def rider(uow: UnitOfWork) -> None:
        await uow.jobs.record_failed("rider", {}, "seen", connection_id=None)

    stop = store.ride_along(rider)
    await store.grouped(lambda uow: uow.jobs.enqueue("a", {}))
    stop()
    await store.grouped(lambda uow: uow.jobs.enqueue("b", {}))
    assert await kinds(store) == ["a", "rider", "b"]
    async with store.read() as uow:
        [ridden] = await uow.jobs.list(kind="rider")
    assert ridden.status == JobStatus.FAILED


async def test_save_writes_a_changed_row_and_stamps_its_update_time(store: Store) -> None:
    row = await add_connection(store)
    before = row.updated_at
    row.title = "Support"
    async with store.transaction() as uow:
        await uow.save(row)
    async with store.read() as uow:
        saved = await uow.connections.get(row.id)
    assert saved is not None and saved.title == "Support" and saved.updated_at >= before
