"""Workers: N loops of claim → run → complete over the durable queue.

The worker is the only place that retries. It is woken as soon as a job is committed
(``Store.on_enqueue``) and otherwise sleeps until the next scheduled retry is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable

from bridge.jobs import HandlerTable, JobContext
from bridge.retry import RetryPolicy
from storage import Store, queue

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
        self._loops: list[asyncio.Task[None]] = []
        self._running: dict[int, asyncio.Task[None]] = {}
        self.heartbeat = 0.0
        # How many jobs ended, by outcome; ``wait_until`` lets callers (the sandbox, tests)
        # wait for work to finish without polling.
        self.outcomes: dict[str, int] = {"succeeded": 0, "retried": 0, "failed": 0}
        self._progress = asyncio.Condition()
        store.on_enqueue(self.wake)

    def wake(self) -> None:
        self._wakeup.set()

    async def wait_until(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within), self._progress:
            await self._progress.wait_for(predicate)

    async def _record(self, kind: str, outcome: str) -> None:
        self.outcomes[outcome] += 1
        self._on_outcome(kind, outcome)
        async with self._progress:
            self._progress.notify_all()

    @property
    def running(self) -> bool:
        return bool(self._loops) and not self._stopping

    async def start(self, *, recover: bool = True) -> None:
        if recover:
            async with self._store.transaction() as uow:
                recovered = await queue.recover(uow.session)
            if recovered:
                log.info("resumed %d interrupted jobs", recovered)
        self._stopping = False
        self.heartbeat = time.monotonic()
        self._loops = [
            asyncio.create_task(self._loop(n), name=f"worker-{n}")
            for n in range(self._concurrency)
        ]

    async def stop(self, grace: float = 8.0) -> None:
        """Stop claiming; let running jobs finish for ``grace`` s, then hand the rest back."""
        self._stopping = True
        self._wakeup.set()
        running = list(self._running.values())
        if running:
            await asyncio.wait(running, timeout=grace)
        unfinished = [job_id for job_id, task in self._running.items() if not task.done()]
        for job_id in unfinished:
            self._running[job_id].cancel()
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        if unfinished:
            async with self._store.transaction() as uow:
                await queue.release(uow.session, unfinished)
            log.info("released %d unfinished jobs", len(unfinished))

    async def _loop(self, number: int) -> None:
        while not self._stopping:
            self.heartbeat = time.monotonic()
            try:
                job = await self._claim()
            except Exception:
                log.exception("claiming a job failed; retrying shortly")
                await self._idle(1.0)
                continue
            if job is None:
                await self._idle(await self._next_due())
                continue
            task = asyncio.create_task(self._execute(job))
            self._running[job.id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():
                    raise
            finally:
                self._running.pop(job.id, None)
            # Another loop may be asleep while jobs wait; pass the baton on.
            self._wakeup.set()

    async def _claim(self) -> JobContext | None:
        async with self._store.transaction() as uow:
            job = await queue.claim(uow.session, self.worker_id, self._lease)
            if job is None or job.id is None:
                return None
            return JobContext(job.id, job.kind, dict(job.payload), job.attempts, job.connection_id)

    async def _next_due(self) -> float:
        async with self._store.transaction() as uow:
            due = await queue.next_run_at(uow.session)
        if due is None:
            return IDLE_WAKE
        return max(0.0, min(IDLE_WAKE, due - time.time()))

    async def _idle(self, seconds: float) -> None:
        self._wakeup.clear()
        if self._stopping or seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

    async def _execute(self, job: JobContext) -> None:
        handler = self._handlers.get(job.kind)
        extra = {"job_id": job.id, "connection_id": job.connection_id}
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await handler.run(job)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self._failed(job, error, extra)
            return
        async with self._store.transaction() as uow:
            await queue.complete(uow.session, job.id)
        await self._record(job.kind, "succeeded")

    async def _failed(self, job: JobContext, error: Exception, extra: dict[str, object]) -> None:
        async with self._store.transaction() as uow:
            row = await uow.job(job.id)
            age = time.time() - row.created_at if row is not None else 0.0
        decision = self._policy.decide(error, job.attempts, age)
        reason = str(error) or type(error).__name__
        if decision is not None:
            log.warning(
                "job %s failed (attempt %d), retry in %.1fs: %s",
                job.kind,
                job.attempts,
                decision.retry_in,
                reason,
                extra=extra,
            )
            async with self._store.transaction() as uow:
                await queue.retry_at(uow.session, job.id, time.time() + decision.retry_in, reason)
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
            await queue.fail(uow.session, job.id, reason)
            if job.connection_id:
                await uow.set_connection_error(job.connection_id, reason)
        await self._record(job.kind, "failed")
        handler = self._handlers.get(job.kind)
        if handler is not None and handler.on_dead is not None:
            try:
                await handler.on_dead(job, error)
            except Exception:
                log.exception("recording the failure of job %s failed", job.id, extra=extra)
