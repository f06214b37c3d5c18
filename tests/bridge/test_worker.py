"""The worker: what a job writes on success commits with its completion, over both stores."""

from __future__ import annotations

from bridge.jobs import JobContext, JobHandler
from bridge.worker import Worker
from storage import Store, UnitOfWork
from storage.models import JobStatus


async def statuses(store: Store, kind: str) -> list[str]:
    async with store.read() as uow:
        return [job.status for job in await uow.jobs.list(kind=kind)]


async def test_a_success_write_commits_with_the_jobs_completion(store: Store) -> None:
    async def mark(uow: UnitOfWork) -> None:
        await uow.jobs.record_failed(
            "marker", {"for": "job"}, "written on success", connection_id=None
        )

    async def run(job: JobContext) -> None:
        job.on_success(mark)

    worker = Worker(store, {"work": JobHandler(run=run)})
    async with store.transaction() as uow:
        await uow.jobs.enqueue("work", {})
    await worker.start()
    try:
        await worker.wait_until(lambda: worker.outcomes["succeeded"] == 1)
    finally:
        await worker.stop()
    assert await statuses(store, "work") == [JobStatus.SUCCEEDED]
    assert await statuses(store, "marker") == [JobStatus.FAILED]


async def test_a_write_that_keeps_failing_does_not_keep_the_job_from_completing(
    store: Store,
) -> None:
    calls: list[int] = []

    async def broken(uow: UnitOfWork) -> None:
        calls.append(1)
        raise RuntimeError("constraint violated")

    async def run(job: JobContext) -> None:
        job.on_success(broken)

    worker = Worker(store, {"work": JobHandler(run=run)})
    async with store.transaction() as uow:
        await uow.jobs.enqueue("work", {})
    await worker.start()
    try:
        await worker.wait_until(lambda: worker.outcomes["succeeded"] == 1, within=15)
    finally:
        await worker.stop()
    assert await statuses(store, "work") == [JobStatus.SUCCEEDED]
    assert len(calls) == 2  # tried with the completion twice, then left out
