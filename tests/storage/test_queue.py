"""The durable queue over SQLite and PostgreSQL: order, exclusivity, dedup, retries, recovery."""

from __future__ import annotations

import time

from storage import Store, queue
from storage.models import JobStatus


async def enqueue(
    store: Store, n: int, lock_key: str | None, dedup: str | None = None
) -> int | None:
    async with store.transaction() as uow:
        return await uow.enqueue("k", {"n": n}, lock_key=lock_key, dedup_key=dedup)


async def claim(store: Store, worker: str = "w") -> tuple[int, int] | None:
    async with store.transaction() as uow:
        job = await queue.claim(uow.session, worker, lease=60)
        return (job.id, job.payload["n"]) if job else None  # type: ignore[return-value]


async def test_jobs_of_one_lock_key_run_one_at_a_time_in_order(store: Store) -> None:
    for n in range(3):
        await enqueue(store, n, "conv-a")
    await enqueue(store, 10, "conv-b")
    first = await claim(store)
    assert first is not None and first[1] == 0
    second = await claim(store)
    assert second is not None and second[1] == 10  # conv-a is busy, conv-b may run
    assert await claim(store) is None
    async with store.transaction() as uow:
        await queue.complete(uow.session, first[0])
    third = await claim(store)
    assert third is not None and third[1] == 1


async def test_a_retrying_job_blocks_later_jobs_of_its_key(store: Store) -> None:
    await enqueue(store, 0, "conv")
    await enqueue(store, 1, "conv")
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        await queue.retry_at(uow.session, job[0], time.time() + 3600, "peer down")
    assert await claim(store) is None  # job 1 must not overtake job 0
    async with store.transaction() as uow:
        await queue.retry_at(uow.session, job[0], time.time() - 1, "peer down")
    again = await claim(store)
    assert again == job


async def test_a_failed_job_no_longer_blocks_its_key(store: Store) -> None:
    await enqueue(store, 0, "conv")
    await enqueue(store, 1, "conv")
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        await queue.fail(uow.session, job[0], "poison")
    nxt = await claim(store)
    assert nxt is not None and nxt[1] == 1


async def test_dedup_key_makes_enqueue_idempotent(store: Store) -> None:
    assert await enqueue(store, 0, None, dedup="hook:1") is not None
    assert await enqueue(store, 1, None, dedup="hook:1") is None
    job = await claim(store)
    assert job is not None and job[1] == 0
    async with store.transaction() as uow:
        await queue.complete(uow.session, job[0])
    assert await enqueue(store, 2, None, dedup="hook:1") is None  # still a duplicate once done


async def test_recover_returns_interrupted_jobs(store: Store) -> None:
    await enqueue(store, 0, "conv")
    job = await claim(store, worker="dead-process")
    assert job is not None and await claim(store) is None
    async with store.transaction() as uow:
        assert await queue.recover(uow.session) == 1
    assert await claim(store, worker="new-process") == job


async def test_expired_lease_lets_another_worker_take_the_job(store: Store) -> None:
    await enqueue(store, 0, "conv")
    async with store.transaction() as uow:
        job = await queue.claim(uow.session, "w1", lease=-1)  # lease already over
    assert job is not None
    async with store.transaction() as uow:
        again = await queue.claim(uow.session, "w2", lease=60)
    assert again is not None and again.id == job.id and again.worker_id == "w2"
    assert again.attempts == 2


async def test_release_gives_jobs_back_without_counting_the_attempt(store: Store) -> None:
    await enqueue(store, 0, None)
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        await queue.release(uow.session, [job[0]])
        row = await uow.job(job[0])
        assert row is not None and row.status == JobStatus.TODO and row.attempts == 0


async def test_requeue_failed_replays_dead_jobs(store: Store) -> None:
    await enqueue(store, 0, None)
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        await queue.fail(uow.session, job[0], "dead")
        assert await queue.requeue_failed(uow.session) == 1
    assert await claim(store) == job


async def test_stats_count_queued_and_failed(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.enqueue("k", {}, connection_id="c1")
        await uow.record_failed("rejected_update", {"raw": "x"}, "unreadable", connection_id="c1")
        stats = await uow.stats()
    assert stats["c1"].queued == 1
    assert stats["c1"].failed == 1


async def test_claim_many_takes_one_job_per_lock_key_oldest_first(store: Store) -> None:
    for n in range(3):
        await enqueue(store, n, "conv-a")
    for n in range(10, 12):
        await enqueue(store, n, "conv-b")
    await enqueue(store, 20, None)
    await enqueue(store, 21, None)
    async with store.transaction() as uow:
        jobs = await queue.claim_many(uow.session, "w", lease=60, limit=10)
    assert [job.payload["n"] for job in jobs] == [0, 10, 20, 21]
    async with store.transaction() as uow:
        assert await queue.claim_many(uow.session, "w", lease=60, limit=10) == []
        await queue.complete(uow.session, [job.id for job in jobs if job.id is not None])
    async with store.transaction() as uow:
        again = await queue.claim_many(uow.session, "w", lease=60, limit=1)
    assert [job.payload["n"] for job in again] == [1]


async def test_queue_lookups_use_the_partial_indexes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """With 1.5M finished jobs a full scan takes ~300 ms, and blocks the loop: the lookups the
    worker makes while running must go through the indexes of active jobs."""
    import sqlite3

    from sqlalchemy import event

    from storage import create_engine, upgrade_to_head

    path = tmp_path / "plans.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_to_head(engine)
    store = Store(engine)
    executed: list[tuple[str, object]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        executed.append((statement, parameters))

    try:
        async with store.transaction() as uow:
            await queue.next_run_at(uow.session)
            await queue.recover(uow.session)
            await uow.waiting_jobs("k", "conv")
            await queue.claim_many(uow.session, "w", 60, 8)
    finally:
        await store.close()
    plans = sqlite3.connect(path)
    lookups = [(s, p) for s, p in executed if "job" in s and not s.startswith("BEGIN")]
    assert len(lookups) == 4
    for statement, parameters in lookups:
        steps = [row[3] for row in plans.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        reads = [step for step in steps if step.startswith(("SCAN", "SEARCH"))]
        assert reads, steps
        # every read goes through an index of active jobs (or straight to a row by its id)
        indexed = ("INDEX ix_job_", "INDEX uq_job_", "INTEGER PRIMARY KEY")
        assert all(any(way in step for way in indexed) for step in reads), (
            statement,
            steps,
        )
