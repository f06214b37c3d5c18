"""The worker: one dispatcher claims runnable jobs in batches; up to N run at once.

The worker is the only place that retries. It is woken as soon as a job is committed
(``Store.on_enqueue``) or a running job ends, and otherwise sleeps until the next scheduled
retry is due. Claiming for all slots in one statement, and completing finished jobs together,
keeps the number of database transactions per job low.

A claimed job is leased for ``lease`` seconds; while the worker holds it (running, or finished
and waiting to be marked done) a heartbeat renews the lease every ``lease / 3`` s, so a long
job is never claimed again while it runs. Every write that ends a job carries the attempt's
fencing token (worker id and attempt number, see ``storage.repos.jobs``): a stale attempt's
write changes nothing, and is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable

from bridge.jobs import HandlerTable, JobContext
from bridge.retry import RetryPolicy
from storage import Attempt, Claimed, Store, UnitOfWork

log = logging.getLogger(__name__)

IDLE_WAKE = 5.0  # seconds; a safety net in case a wake-up from another process is missed


class Worker:
    def __init__(
        self,
        store: Store,
        handlers: HandlerTable,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = 8,
        lease: float = 120.0,
        on_outcome: Callable[[str, str], None] | None = None,
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._policy = policy or RetryPolicy()
        self._concurrency = concurrency
        self._lease = lease
        self._on_outcome = on_outcome or (lambda kind, outcome: None)
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._running: dict[int, asyncio.Task[None]] = {}
        self._finished: list[JobContext] = []  # succeeded, waiting to be marked done together
        self._completion_failed: set[int] = set()
        # The jobs this worker holds, by id: the attempt number its claim got (the fencing
        # token, with ``worker_id``), from the claim's commit until the job's end is committed.
        self._held: dict[int, int] = {}
        self._ending: set[int] = set()  # jobs whose retry or failure is being written
        self._renewer: asyncio.Task[None] | None = None
        self.heartbeat = 0.0
        # How many jobs ended, by outcome; ``wait_until`` lets callers (the sandbox, tests)
        # wait for work to finish without polling.
        self.outcomes: dict[str, int] = {"succeeded": 0, "retried": 0, "failed": 0}
        self._progress = asyncio.Condition()
        self._claiming = 0  # slots that claims under way may fill
        self._stop_riding: Callable[[], None] | None = None
        store.on_enqueue(self.wake)

    def wake(self) -> None:
        self._wakeup.set()

    async def wait_until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within), self._progress:
            await self._progress.wait_for(predicate)

    @property
    def running(self) -> bool:
        return self._dispatcher is not None and not self._stopping

    async def start(self, *, recover: bool = True) -> None:
        if recover:
            async with self._store.transaction() as uow:
                recovered = await uow.jobs.recover()
            if recovered:
                log.info("resumed %d interrupted jobs", recovered)
        self._stopping = False
        self.heartbeat = time.monotonic()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="worker-dispatcher")
        self._stop_riding = self._store.ride_along(self._ride)
        self._renewer = asyncio.create_task(self._renew_leases(), name="worker-leases")

    async def stop(self, grace: float = 8.0) -> None:
        """Stop claiming; let running jobs finish for ``grace`` s, then hand the rest back."""
        self._stopping = True
        if self._stop_riding is not None:
            self._stop_riding()
            self._stop_riding = None
        self._wakeup.set()
        if self._dispatcher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        running = dict(self._running)
        if running:
            await asyncio.wait(running.values(), timeout=grace)
        unfinished = [job_id for job_id, task in running.items() if not task.done()]
        for job_id in unfinished:
            running[job_id].cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)
        await self._complete_and_claim(0)
        if unfinished:
            async with self._store.transaction() as uow:
                released = await uow.jobs.release(self.worker_id, self._attempts(unfinished))
            log.info("released %d unfinished jobs", len(released))
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        self._held.clear()

    # -- dispatching ---------------------------------------------------------------------------
    async def _dispatch(self) -> None:
        while not self._stopping:
            self.heartbeat = time.monotonic()
            # Clear before looking, so a wake-up that arrives while we claim is not lost.
            self._wakeup.clear()
            try:
                jobs, free = await self._complete_and_claim()
            except Exception:
                log.exception("claiming jobs failed; retrying shortly")
                await self._idle(1.0)
                continue
            for job in jobs:
                self._running[job.id] = asyncio.create_task(self._execute(job))
            if jobs and len(jobs) == free:
                continue  # there may be more: fill the slots as they free up
            await self._idle(await self._next_due() if not self._running else IDLE_WAKE)

    async def _complete_and_claim(self, limit: int | None = None) -> tuple[list[JobContext], int]:
        """Mark finished jobs done and take new ones (``limit``, or as many as there are free
        slots) in one transaction, one commit. Returns the jobs and how many were asked for."""
        if not self._finished and (limit == 0 or self._free() <= 0):
            return [], 0
        async with self._store.transaction() as uow:
            done, claimed, asked = await self._complete_and_claim_in(uow, limit)
        await self._record_all(done, "succeeded")
        return claimed, asked

    def _free(self) -> int:
        return max(0, self._concurrency - len(self._running) - self._claiming)

    async def _ride(self, uow: UnitOfWork) -> None:
        """At the end of a group commit (receipts): complete and claim in its transaction;
        what it claims starts once that has committed."""
        if self._stopping or (not self._finished and self._free() <= 0):
            return
        done, claimed, asked = await self._complete_and_claim_in(uow)

        def start() -> None:
            if self._stopping:  # claimed as the worker stopped: the next start recovers them
                return
            for job in claimed:
                self._running[job.id] = asyncio.create_task(self._execute(job, yield_first=True))
            # Fewer than asked for: nothing else is runnable, no need to wake the dispatcher
            # for the jobs this transaction enqueued.
            uow.caught_up = len(claimed) < asked
            if done:
                asyncio.get_running_loop().create_task(self._record_all(done, "succeeded"))

        uow.after_commit(start)

    async def _complete_and_claim_in(
        self, uow: UnitOfWork, limit: int | None = None
    ) -> tuple[list[JobContext], list[JobContext], int]:
        """The statements of ``_complete_and_claim``. The finished jobs go back to their list
        if the transaction does not commit; the slots asked for are held until it ends.
        Free slots are counted here, inside the transaction: on SQLite no other claim can
        run meanwhile, so the worker never holds more jobs than it has slots."""
        done, self._finished = self._finished, []
        limit = self._free() if limit is None else limit
        self._claiming += limit

        def ended() -> None:
            self._claiming -= limit

        def rolled_back() -> None:
            ended()
            # Not recorded: try again next round. A second failure may be the jobs' own
            # writes' doing: the round after that goes without them (the state they would
            # have written is then behind, as if the process had died before this commit).
            for job in done:
                if job.id in self._completion_failed and job.success_writes:
                    log.warning("job %s completes without its own writes", job.id)
                    job.success_writes.clear()
                self._completion_failed.add(job.id)
            self._finished = done + self._finished

        uow.after_rollback(rolled_back)
        completed = done
        if done:
            accepted = await uow.jobs.complete(
                self.worker_id, self._attempts(job.id for job in done)
            )
            completed = [job for job in done if job.id in accepted]
            for job in done:
                if job.id not in accepted:
                    log.warning("job %s: completion of a stale attempt refused", job.id)
            for job in completed:
                for write in job.success_writes:
                    await write(uow)
            self._completion_failed.difference_update(job.id for job in done)
        claimed = await uow.jobs.claim(self.worker_id, self._lease, limit) if limit > 0 else []
        fresh = [job for job in claimed if job.id not in self._held]

        def committed() -> None:
            ended()
            for finished in done:
                self._held.pop(finished.id, None)
            for taken in claimed:
                if taken.id in self._held:
                    # Its lease ran out while it was still ours (the heartbeat was late) and
                    # this claim took it again: the attempt under way carries on under the
                    # new token rather than starting a second time beside it.
                    log.warning("job %s: lease lapsed while held; kept", taken.id)
                self._held[taken.id] = taken.attempts

        uow.after_commit(committed)
        return completed, [_context(job) for job in fresh], limit

    async def _next_due(self) -> float:
        async with self._store.read() as uow:
            due = await uow.jobs.next_run_at()
        if due is None:
            return IDLE_WAKE
        return max(0.0, min(IDLE_WAKE, due - time.time()))

    async def _idle(self, seconds: float) -> None:
        if self._stopping or seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    # -- running one job -----------------------------------------------------------------------
    async def _execute(self, job: JobContext, *, yield_first: bool = False) -> None:
        """``yield_first``: let what is already scheduled run first. A job claimed with a
        group of receipts starts before their answers are written otherwise, and its first
        step (reads, building the request) would delay them."""
        if yield_first:
            await asyncio.sleep(0)
        handler = self._handlers.get(job.kind)
        extra: dict[str, object] = {"job_id": job.id, "connection_id": job.connection_id}
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await handler.run(job)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._ending.add(job.id)
            try:
                await self._failed(job, error, extra)
            finally:
                self._ending.discard(job.id)
        else:
            self._finished.append(job)
        finally:
            self._running.pop(job.id, None)
            self._wakeup.set()

    async def _failed(self, job: JobContext, error: Exception, extra: dict[str, object]) -> None:
        async with self._store.read() as uow:
            row = await uow.jobs.get(job.id)
            age = time.time() - row.created_at if row is not None else 0.0
        decision = self._policy.decide(error, job.attempts, age)
        reason = str(error) or type(error).__name__
        [attempt] = self._attempts([job.id])
        if decision is not None:
            log.warning(
                "job %s failed (attempt %d), retry in %.1fs: %s",
                job.kind,
                job.attempts,
                decision.retry_in,
                reason,
                extra=extra,
            )
            due = time.time() + decision.retry_in
            async with self._store.transaction() as uow:
                accepted = await uow.jobs.retry_at(self.worker_id, attempt, due, reason)
            if self._ended(attempt, accepted, "retry"):
                await self._record(job.kind, "retried")
            return
        log.error(
            "job %s failed for good after %d attempts: %s",
            job.kind,
            job.attempts,
            reason,
            extra=extra,
        )
        async with self._store.transaction() as uow:
            accepted = await uow.jobs.fail(self.worker_id, attempt, reason)
            if accepted and job.connection_id:
                await uow.connections.set_error(job.connection_id, reason)
        if not self._ended(attempt, accepted, "failure"):
            return
        await self._record(job.kind, "failed")
        handler = self._handlers.get(job.kind)
        if handler is not None and handler.on_dead is not None:
            try:
                await handler.on_dead(job, error)
            except Exception:
                log.exception("recording the failure of job %s failed", job.id, extra=extra)

    def _ended(self, attempt: Attempt, accepted: bool, what: str) -> bool:
        """Forget a job whose end was written (or refused: a stale attempt's)."""
        if self._held.get(attempt.job_id) == attempt.number:
            del self._held[attempt.job_id]
        if not accepted:
            log.warning("job %s: %s of a stale attempt refused", attempt.job_id, what)
        return accepted

    # -- leases --------------------------------------------------------------------------------
    def _attempts(self, job_ids: Iterable[int]) -> list[Attempt]:
        return [Attempt(job_id, self._held.get(job_id, 0)) for job_id in job_ids]

    async def _renew_leases(self) -> None:
        """Every ``lease / 3`` s, extend the leases of the jobs held here. A job found lost
        (its lease ran out and another claim took it) is stopped if its handler still runs:
        the attempt that holds it now does the work."""
        while True:
            await asyncio.sleep(self._lease / 3)
            held = [Attempt(job_id, number) for job_id, number in self._held.items()]
            if not held:
                continue
            try:
                async with self._store.transaction() as uow:
                    kept = await uow.jobs.renew(self.worker_id, held, self._lease)
            except Exception:
                log.exception("renewing job leases failed; retrying")
                continue
            for attempt in held:
                lost = (
                    attempt.job_id not in kept and self._held.get(attempt.job_id) == attempt.number
                )
                task = self._running.get(attempt.job_id)
                if lost and task is not None and attempt.job_id not in self._ending:
                    log.warning("job %s: lease lost to another claim; stopped", attempt.job_id)
                    del self._held[attempt.job_id]
                    task.cancel()

    async def _record_all(self, jobs: list[JobContext], outcome: str) -> None:
        for job in jobs:
            await self._record(job.kind, outcome)

    async def _record(self, kind: str, outcome: str) -> None:
        self.outcomes[outcome] += 1
        self._on_outcome(kind, outcome)
        async with self._progress:
            self._progress.notify_all()


def _context(job: Claimed) -> JobContext:
    return JobContext(
        job.id, job.kind, job.payload, job.attempts, job.connection_id, job.interrupted
    )
