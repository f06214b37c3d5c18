"""The jobs repository (the durable queue) over SQLite and PostgreSQL: order, exclusivity,
dedup, retries, recovery, and the fencing of every write that ends or renews a claim."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from storage import Attempt, Store
from storage.models import JobStatus


async def enqueue(
    store: Store, n: int, lock_key: str | None, dedup: str | None = None
) -> int | None:
    async with store.transaction() as uow:
        return await uow.jobs.enqueue("k", {"n": n}, lock_key=lock_key, dedup_key=dedup)


async def claim(store: Store, worker: str = "w", lease: float = 60) -> tuple[Attempt, int] | None:
    """Claim one job: its fencing token and its payload's ``n``."""
    async with store.transaction() as uow:
        jobs = await uow.jobs.claim(worker, lease, 1)
    return (jobs[0].attempt, jobs[0].payload["n"]) if jobs else None


async def status(store: Store, job_id: int) -> tuple[str, int, str | None]:
    async with store.read() as uow:
        job = await uow.jobs.get(job_id)
    assert job is not None
    return job.status, job.attempts, job.worker_id


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
        assert await uow.jobs.complete("w", [first[0]]) == {first[0].job_id}
    third = await claim(store)
    assert third is not None and third[1] == 1


async def test_a_retrying_job_blocks_later_jobs_of_its_key(store: Store) -> None:
    await enqueue(store, 0, "conv")
    await enqueue(store, 1, "conv")
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        assert await uow.jobs.retry_at("w", job[0], time.time() + 3600, "peer down")
    assert await claim(store) is None  # job 1 must not overtake job 0
    async with store.transaction() as uow:
        await uow.jobs.requeue_failed()  # not failed: untouched
    assert await claim(store) is None


async def test_a_job_due_again_is_claimed_with_the_next_attempt(store: Store) -> None:
    await enqueue(store, 0, "conv")
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        assert await uow.jobs.retry_at("w", job[0], time.time() - 1, "peer down")
    again = await claim(store)
    assert again == (Attempt(job[0].job_id, 2), 0)
    assert await status(store, job[0].job_id) == (JobStatus.DOING, 2, "w")


async def test_a_failed_job_no_longer_blocks_its_key(store: Store) -> None:
    await enqueue(store, 0, "conv")
    await enqueue(store, 1, "conv")
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        assert await uow.jobs.fail("w", job[0], "poison")
    nxt = await claim(store)
    assert nxt is not None and nxt[1] == 1


async def test_dedup_key_makes_enqueue_idempotent(store: Store) -> None:
    assert await enqueue(store, 0, None, dedup="hook:1") is not None
    assert await enqueue(store, 1, None, dedup="hook:1") is None
    job = await claim(store)
    assert job is not None and job[1] == 0
    async with store.transaction() as uow:
        await uow.jobs.complete("w", [job[0]])
    assert await enqueue(store, 2, None, dedup="hook:1") is None  # still a duplicate once done


async def test_enqueue_wakes_listeners_only_after_commit_and_not_for_duplicates(
    store: Store,
) -> None:
    woken: list[int] = []
    store.on_enqueue(lambda: woken.append(1))
    async with store.transaction() as uow:
        await uow.jobs.enqueue("k", {}, dedup_key="once")
        assert woken == []  # not visible to a worker yet
    assert woken == [1]
    async with store.transaction() as uow:
        assert await uow.jobs.enqueue("k", {}, dedup_key="once") is None
    assert woken == [1]


async def test_recover_returns_interrupted_jobs(store: Store) -> None:
    await enqueue(store, 0, "conv")
    job = await claim(store, worker="dead-process")
    assert job is not None and await claim(store) is None
    async with store.transaction() as uow:
        assert await uow.jobs.recover() == 1
    assert await claim(store, worker="new-process") == (Attempt(job[0].job_id, 2), 0)


async def test_expired_lease_lets_another_worker_take_the_job(store: Store) -> None:
    await enqueue(store, 0, "conv")
    first = await claim(store, "w1", lease=-1)  # lease already over
    assert first is not None
    again = await claim(store, "w2")
    assert again == (Attempt(first[0].job_id, 2), 0)
    assert await status(store, first[0].job_id) == (JobStatus.DOING, 2, "w2")


async def claim_interrupted(store: Store, worker: str) -> bool:
    """Claim one job and say whether its previous attempt stopped without ending."""
    async with store.transaction() as uow:
        [job] = await uow.jobs.claim(worker, 60, 1)
    return job.interrupted


async def test_an_attempt_that_never_ended_marks_the_next_one_interrupted(store: Store) -> None:
    await enqueue(store, 0, "lease-ran-out")
    await enqueue(store, 1, "process-died")
    await enqueue(store, 2, "retried")
    async with store.transaction() as uow:
        jobs = await uow.jobs.claim("w1", -1, 3)  # leases already over for the first
        assert [j.interrupted for j in jobs] == [False, False, False]
        assert await uow.jobs.retry_at("w1", jobs[2].attempt, time.time(), "peer down")
    # The lease of job 0 ran out while it ran: whoever claims it next is told.
    async with store.transaction() as uow:
        [again] = await uow.jobs.claim("w2", 60, 1)
    assert (again.payload["n"], again.interrupted) == (0, True)
    async with store.transaction() as uow:
        assert await uow.jobs.recover() == 2  # job 1 (w1's) and job 0 (w2's): both dead now
        claimed = await uow.jobs.claim("w3", 60, 3)
    assert sorted((j.payload["n"], j.interrupted) for j in claimed) == [
        (0, True),
        (1, True),
        (2, False),  # its attempt ended with a known failure
    ]


async def test_an_interrupted_job_retried_after_a_known_failure_is_not_interrupted(
    store: Store,
) -> None:
    await enqueue(store, 0, "conv")
    assert await claim(store, "dead", lease=-1) is not None
    async with store.transaction() as uow:
        [job] = await uow.jobs.claim("w", 60, 1)
        assert job.interrupted
        assert await uow.jobs.retry_at("w", job.attempt, time.time(), "peer down")
    assert await claim_interrupted(store, "w") is False


async def test_a_renewed_lease_keeps_the_job_from_being_claimed_again(store: Store) -> None:
    await enqueue(store, 0, "conv")
    job = await claim(store, "w1", lease=-1)
    assert job is not None
    async with store.transaction() as uow:
        assert await uow.jobs.renew("w1", [job[0]], 60) == {job[0].job_id}
    assert await claim(store, "w2") is None


async def test_completion_from_a_stale_attempt_is_refused(store: Store) -> None:
    await enqueue(store, 0, "conv")
    stale = await claim(store, "w1", lease=-1)
    assert stale is not None
    current = await claim(store, "w2")
    assert current is not None
    async with store.transaction() as uow:
        assert await uow.jobs.complete("w1", [stale[0]]) == set()
        assert await uow.jobs.renew("w1", [stale[0]], 60) == set()
        assert not await uow.jobs.retry_at("w1", stale[0], time.time(), "late")
        assert not await uow.jobs.fail("w1", stale[0], "late")
        assert await uow.jobs.release("w1", [stale[0]]) == set()
    assert await status(store, stale[0].job_id) == (JobStatus.DOING, 2, "w2")
    async with store.transaction() as uow:
        assert await uow.jobs.complete("w2", [current[0]]) == {current[0].job_id}
    assert await status(store, stale[0].job_id) == (JobStatus.SUCCEEDED, 2, "w2")


async def test_a_stale_attempt_of_the_same_worker_is_refused_too(store: Store) -> None:
    """The worker id alone does not fence: the same worker may claim its own job again."""
    await enqueue(store, 0, None)
    stale = await claim(store, "w", lease=-1)
    current = await claim(store, "w")
    assert stale is not None and current is not None and stale[0] != current[0]
    async with store.transaction() as uow:
        assert await uow.jobs.complete("w", [stale[0]]) == set()
        assert not await uow.jobs.fail("w", stale[0], "late")
    assert await status(store, stale[0].job_id) == (JobStatus.DOING, 2, "w")


async def test_complete_changes_only_the_jobs_whose_attempt_holds_them(store: Store) -> None:
    await enqueue(store, 0, None)
    await enqueue(store, 1, None)
    held = await claim(store, "w")
    lost = await claim(store, "w", lease=-1)
    assert held is not None and lost is not None
    taken = await claim(store, "other")
    assert taken is not None and taken[0].job_id == lost[0].job_id
    async with store.transaction() as uow:
        assert await uow.jobs.complete("w", [held[0], lost[0]]) == {held[0].job_id}
    assert (await status(store, held[0].job_id))[0] == JobStatus.SUCCEEDED
    assert (await status(store, lost[0].job_id))[0] == JobStatus.DOING


async def test_release_gives_jobs_back_without_counting_the_attempt(store: Store) -> None:
    await enqueue(store, 0, None)
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        assert await uow.jobs.release("w", [job[0]]) == {job[0].job_id}
    assert await status(store, job[0].job_id) == (JobStatus.TODO, 0, None)


async def test_requeue_failed_replays_dead_jobs(store: Store) -> None:
    await enqueue(store, 0, None)
    job = await claim(store)
    assert job is not None
    async with store.transaction() as uow:
        await uow.jobs.fail("w", job[0], "dead")
        assert await uow.jobs.requeue_failed() == 1
    assert await claim(store) == job


async def test_requeue_failed_leaves_rejected_updates_and_other_connections(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.jobs.record_failed("rejected_update", {}, "unreadable", connection_id="c1")
        mine = await uow.jobs.record_failed("k", {"n": 1}, "dead", connection_id="c1")
        await uow.jobs.record_failed("k", {"n": 2}, "dead", connection_id="c2")
    async with store.transaction() as uow:
        assert await uow.jobs.requeue_failed(connection_id="c1") == 1
    assert await status(store, mine) == (JobStatus.TODO, 0, None)


async def test_record_failed_keeps_the_error_without_waking_workers(store: Store) -> None:
    woken: list[int] = []
    store.on_enqueue(lambda: woken.append(1))
    async with store.transaction() as uow:
        job_id = await uow.jobs.record_failed("k", {"raw": "x"}, "unreadable", connection_id="c")
    async with store.read() as uow:
        job = await uow.jobs.get(job_id)
    assert job is not None and (job.status, job.last_error) == (JobStatus.FAILED, "unreadable")
    assert woken == []
    assert await claim(store) is None


async def test_claim_takes_one_job_per_lock_key_oldest_first(store: Store) -> None:
    for n in range(3):
        await enqueue(store, n, "conv-a")
    for n in range(10, 12):
        await enqueue(store, n, "conv-b")
    await enqueue(store, 20, None)
    await enqueue(store, 21, None)
    async with store.transaction() as uow:
        jobs = await uow.jobs.claim("w", lease=60, limit=10)
    assert [job.payload["n"] for job in jobs] == [0, 10, 20, 21]
    async with store.transaction() as uow:
        assert await uow.jobs.claim("w", lease=60, limit=10) == []
        await uow.jobs.complete("w", [job.attempt for job in jobs])
    async with store.transaction() as uow:
        again = await uow.jobs.claim("w", lease=60, limit=1)
    assert [job.payload["n"] for job in again] == [1]


async def test_waiting_lists_queued_jobs_of_a_kind_behind_a_key(store: Store) -> None:
    for n in range(3):
        await enqueue(store, n, "conv")
    await enqueue(store, 9, "other")
    first = await claim(store)
    assert first is not None
    async with store.read() as uow:
        waiting = await uow.jobs.waiting("k", "conv")
        assert await uow.jobs.waiting("other-kind", "conv") == []
    assert [job.payload["n"] for job in waiting] == [1, 2]


async def test_next_run_at_is_the_earliest_queued_due_time(store: Store) -> None:
    async with store.read() as uow:
        assert await uow.jobs.next_run_at() is None
    async with store.transaction() as uow:
        await uow.jobs.enqueue("k", {}, run_at=2000.0)
        await uow.jobs.enqueue("k", {}, run_at=1000.0)
    async with store.read() as uow:
        assert await uow.jobs.next_run_at() == 1000.0


async def test_list_filters_by_status_and_kind_newest_first(store: Store) -> None:
    async with store.transaction() as uow:
        a = await uow.jobs.enqueue("a", {})
        b = await uow.jobs.enqueue("b", {})
        c = await uow.jobs.record_failed("a", {}, "x", connection_id=None)
    async with store.read() as uow:
        assert [j.id for j in await uow.jobs.list(kind="a")] == [a, c]
        assert [j.id for j in await uow.jobs.list(status=JobStatus.FAILED)] == [c]
        assert [j.id for j in await uow.jobs.list(newest_first=True, limit=2)] == [c, b]


async def test_queue_lookups_use_the_partial_indexes(tmp_path: Path) -> None:
    """With 1.5M finished jobs a full scan takes ~300 ms, and blocks the loop: the lookups the
    worker makes while running must go through the indexes of active jobs."""
    import sqlite3

    from sqlalchemy import event

    from storage import create_engine, upgrade_to_head

    path = tmp_path / "plans.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_to_head(engine)
    store = Store(engine)
    executed: list[tuple[str, Any]] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        executed.append((statement, parameters))

    try:
        async with store.transaction() as uow:
            await uow.jobs.next_run_at()
            await uow.jobs.recover()
            await uow.jobs.waiting("k", "conv")
            await uow.jobs.claim("w", 60, 8)
            held = [Attempt(1, 1), Attempt(2, 1)]
            await uow.jobs.renew("w", held, 60)
            await uow.jobs.complete("w", held)
            await uow.jobs.retry_at("w", Attempt(3, 1), 0.0, "x")
    finally:
        await store.close()
    plans = sqlite3.connect(path)
    lookups = [(s, p) for s, p in executed if "job" in s and not s.startswith("BEGIN")]
    assert len(lookups) == 7
    for statement, parameters in lookups:
        steps = [row[3] for row in plans.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        # (a fenced write's list of (id, attempt) pairs is scanned: the parameters, not a table)
        reads = [
            step
            for step in steps
            if step.startswith(("SCAN", "SEARCH")) and not step.endswith("CONSTANT ROWS")
        ]
        assert reads, steps
        # every read goes through an index of active jobs (or straight to a row by its id)
        indexed = ("INDEX ix_job_", "INDEX uq_job_", "INTEGER PRIMARY KEY")
        assert all(any(way in step for way in indexed) for step in reads), (
            statement,
            steps,
        )
