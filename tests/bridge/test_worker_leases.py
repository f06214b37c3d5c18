"""Leases: a job that outlives its lease while the workers stay busy is never started twice.

Two workers, each with its own store (engine and pool: as two processes would have), on the
same database; leases of 1 s and a job that takes 8 s. Without renewal its lease runs out
seven times over and a busy claimer takes it again each time.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import update
from sqlmodel import col

from bridge.jobs import JobContext, JobHandler
from bridge.worker import Worker
from storage import Store, UnitOfWork, create_engine
from storage.models import Job, JobStatus

LEASE = 1.0
LONG_JOB = 8.0
CHAINS = 3


async def test_a_job_longer_than_its_lease_starts_once_while_workers_stay_busy(
    database_url: str, store: Store
) -> None:
    other_store = Store(create_engine(database_url))
    starts: Counter[str] = Counter()
    long_done = asyncio.Event()

    async def long_job(job: JobContext) -> None:
        starts["long"] += 1
        # The job's own work, not synchronisation: it must outlast the lease many times.
        await asyncio.sleep(LONG_JOB)
        long_done.set()

    async def busy(job: JobContext) -> None:
        starts["busy"] += 1
        await asyncio.sleep(0.02)  # a short job's work
        if not long_done.is_set():
            chain = job.payload["chain"]

            async def next_link(uow: UnitOfWork) -> None:
                await uow.jobs.enqueue("busy", {"chain": chain}, lock_key=f"chain-{chain}")

            job.on_success(next_link)

    ended: Counter[tuple[str, str]] = Counter()
    long_ended = asyncio.Event()

    def seen(kind: str, outcome: str) -> None:
        ended[kind, outcome] += 1
        if kind == "long":
            long_ended.set()

    handlers = {"long": JobHandler(run=long_job), "busy": JobHandler(run=busy)}
    workers = [
        Worker(store, handlers, concurrency=2, lease=LEASE, on_outcome=seen),
        Worker(other_store, handlers, concurrency=2, lease=LEASE, on_outcome=seen),
    ]
    async with store.transaction() as uow:
        long_id = await uow.jobs.enqueue("long", {}, lock_key="conversation")
        for chain in range(CHAINS):
            await uow.jobs.enqueue("busy", {"chain": chain}, lock_key=f"chain-{chain}")
    assert long_id is not None
    await workers[0].start()
    await workers[1].start(recover=False)  # recovery is for the only worker at start-up
    try:
        await asyncio.wait_for(long_ended.wait(), LONG_JOB + 20)
    finally:
        for worker in workers:
            await worker.stop()
        await other_store.close()
    assert starts["long"] == 1
    assert ended["long", "succeeded"] == 1 and ended["long", "retried"] == 0
    assert starts["busy"] > 3 * LONG_JOB  # the workers kept claiming all along
    async with store.read() as uow:
        job = await uow.jobs.get(long_id)
    assert job is not None and (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)


async def steal(store: Store, job_id: int) -> None:
    """What another worker does once a lease has run out: end the lease, claim the job."""
    async with store.transaction() as uow:
        await uow.session.execute(update(Job).where(col(Job.id) == job_id).values(lease_until=0))
        [taken] = await uow.jobs.claim("thief", 60, 1)
    assert taken.id == job_id


async def test_a_worker_whose_job_was_claimed_again_cannot_complete_it(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    started, go = asyncio.Event(), asyncio.Event()

    async def run(job: JobContext) -> None:
        started.set()
        await go.wait()

    worker = Worker(store, {"work": JobHandler(run=run)}, lease=60)
    async with store.transaction() as uow:
        job_id = await uow.jobs.enqueue("work", {})
    assert job_id is not None
    await worker.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        await steal(store, job_id)
        go.set()
    finally:
        await worker.stop()  # waits for the job, then writes its completion
    async with store.read() as uow:
        job = await uow.jobs.get(job_id)
    assert job is not None and (job.status, job.worker_id, job.attempts) == ("doing", "thief", 2)
    assert worker.outcomes["succeeded"] == 0
    assert f"job {job_id}: completion of a stale attempt refused" in caplog.text


async def test_a_job_whose_lease_was_lost_is_stopped_at_the_next_renewal(store: Store) -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def run(job: JobContext) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # runs until stopped
        except asyncio.CancelledError:
            stopped.set()
            raise

    worker = Worker(store, {"work": JobHandler(run=run)}, lease=LEASE)
    async with store.transaction() as uow:
        job_id = await uow.jobs.enqueue("work", {})
    assert job_id is not None
    await worker.start()
    try:
        await asyncio.wait_for(started.wait(), 10)
        await steal(store, job_id)
        await asyncio.wait_for(stopped.wait(), 10)
    finally:
        await worker.stop()
    async with store.read() as uow:
        job = await uow.jobs.get(job_id)
    assert job is not None and (job.status, job.worker_id) == ("doing", "thief")
    assert worker.outcomes == {"succeeded": 0, "retried": 0, "failed": 0}
