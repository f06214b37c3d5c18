"""The durable job queue, on the application database.

Guarantees live in the schema and in one claim statement:
- ``dedup_key`` is unique, so enqueueing the same work twice is a no-op;
- jobs sharing a ``lock_key`` run one at a time and in id order, even while an earlier one
  waits for its retry (a later job never overtakes it);
- a claimed job is leased, not removed: if its worker dies, the lease runs out (or ``recover``
  runs at start-up) and the job is claimed again. A worker renews the leases of the jobs it
  runs (``renew``) so that a long job is not claimed a second time while it runs.

Fencing: a claim's attempt is known by the worker that made it and the attempt number it got
(``Attempt``). Renewing, completing, retrying, failing and releasing a job are conditioned on
that token in the UPDATE's own WHERE clause: a stale attempt (its lease ran out and the job
was claimed again) changes nothing, and is told so by the return value.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    Executable,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import dialect
from storage.models import INTERRUPTED, Job, JobStatus, now
from storage.repos.job_statements import (
    ACTIVE,
    CLAIMS,
    COMPLETE,
    END,
    RELEASE,
    RENEW,
    TABLE,
)


class Attempt(NamedTuple):
    """The fencing token of one claim: the job and the attempt number the claim gave it
    (with the worker id, which the worker passes alongside)."""

    job_id: int
    number: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed job as the worker needs it (read straight from the claim's RETURNING)."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    connection_id: str | None
    # The previous attempt stopped without ending (a crash, a lost lease): whatever it was
    # doing may or may not have happened.
    interrupted: bool = False

    @property
    def attempt(self) -> Attempt:
        return Attempt(self.id, self.attempts)


class Jobs:
    def __init__(self, session: AsyncSession, on_enqueue: Callable[[], None]) -> None:
        self._session = session
        self._on_enqueue = on_enqueue

    # -- adding --------------------------------------------------------------------------------
    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        connection_id: str | None = None,
        lock_key: str | None = None,
        dedup_key: str | None = None,
        run_at: float | None = None,
    ) -> int | None:
        """Add a job in this transaction; None when ``dedup_key`` was already queued. Workers
        of this process are woken once the transaction commits."""
        job_id = await self._insert(
            kind,
            payload,
            connection_id=connection_id,
            lock_key=lock_key,
            dedup_key=dedup_key,
            run_at=run_at,
        )
        if job_id is not None:
            self._on_enqueue()
        return job_id

    async def record_failed(
        self, kind: str, payload: dict[str, Any], error: str, *, connection_id: str | None
    ) -> int:
        """Keep something that cannot be processed as a failed job, for inspection and counts."""
        job_id = await self._insert(
            kind, payload, connection_id=connection_id, status=JobStatus.FAILED, last_error=error
        )
        assert job_id is not None  # no dedup_key: never a duplicate
        return job_id

    async def _insert(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        connection_id: str | None,
        lock_key: str | None = None,
        dedup_key: str | None = None,
        run_at: float | None = None,
        status: JobStatus = JobStatus.TODO,
        last_error: str | None = None,
    ) -> int | None:
        moment = now()
        values = {
            "kind": kind,
            "payload": payload,
            "connection_id": connection_id,
            "status": status.value,
            "attempts": 0,
            "run_at": run_at if run_at is not None else moment,
            "lock_key": lock_key,
            "dedup_key": dedup_key,
            "last_error": last_error,
            "created_at": moment,
            "updated_at": moment,
        }
        name = dialect.of(self._session)
        statement = (
            dialect.insert_ignore_returning_id(name, TABLE, ("dedup_key",))
            if dedup_key is not None
            else dialect.insert_returning_id(name, TABLE)
        )
        # Core, with the values as parameters: the statement is compiled once. The ORM form
        # (``insert(Job).values(...)``) costs ~0.3 ms of Python per job to build and key.
        result = await (await self._session.connection()).execute(statement, values)
        job_id: int | None = result.scalar_one_or_none()
        return job_id

    # -- reading -------------------------------------------------------------------------------
    async def get(self, job_id: int) -> Job | None:
        return await self._session.get(Job, job_id, populate_existing=True)

    async def list(
        self,
        *,
        status: JobStatus | None = None,
        kind: str | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> builtins.list[Job]:
        order = col(Job.id).desc() if newest_first else col(Job.id)
        statement = select(Job).order_by(order).limit(limit)
        if status is not None:
            statement = statement.where(col(Job.status) == status)
        if kind is not None:
            statement = statement.where(col(Job.kind) == kind)
        return [*(await self._session.execute(statement)).scalars()]

    async def waiting(self, kind: str, lock_key: str) -> builtins.list[Job]:
        """Jobs of one kind still queued behind a lock key, oldest first (a job may look at
        the work waiting behind it, e.g. the rest of an album)."""
        statement = (
            select(Job)
            .where(
                ACTIVE,  # lets SQLite use the partial index on lock_key
                col(Job.kind) == kind,
                col(Job.lock_key) == lock_key,
                col(Job.status) == JobStatus.TODO,
            )
            .order_by(col(Job.id))
        )
        return [*(await self._session.execute(statement)).scalars()]

    async def next_run_at(self) -> float | None:
        """When the next queued job is due (it may be now or past); None with none queued."""
        statement = select(func.min(col(Job.run_at))).where(
            ACTIVE, col(Job.status) == JobStatus.TODO
        )
        value = (await self._session.execute(statement)).scalar_one_or_none()
        return float(value) if value is not None else None

    # -- the worker's side ---------------------------------------------------------------------
    async def claim(self, worker_id: str, lease: float, limit: int) -> builtins.list[Claimed]:
        """Take up to ``limit`` runnable jobs, at most one per lock_key, oldest first, leased
        to ``worker_id`` for ``lease`` seconds."""
        moment = now()
        name = dialect.of(self._session)
        statement = CLAIMS[name]
        params = {
            "now": moment,
            "worker": worker_id,
            "lease": moment + lease,
            "limit": limit,
            "interrupted": INTERRUPTED,
        }
        try:
            if dialect.claims_can_race(name):
                async with self._session.begin_nested():  # contains the race below
                    rows = list(await self._session.execute(statement, params))
            else:
                rows = list(await self._session.execute(statement, params))
        except IntegrityError:
            # Another worker took a job with the same lock_key in the same instant; the
            # partial unique index refused ours. Nothing to run for us right now.
            return []
        claimed = [
            Claimed(
                row[0],
                row[1],
                row[2] if isinstance(row[2], dict) else json.loads(row[2]),
                row[3],
                row[4],
                row[5] == INTERRUPTED,
            )
            for row in rows
        ]
        return sorted(claimed, key=lambda job: job.id)

    async def renew(self, worker_id: str, held: Sequence[Attempt], lease: float) -> set[int]:
        """Extend the leases of running jobs to ``lease`` seconds from now; returns the ids
        still held (the others were lost to another claim)."""
        return await self._many(RENEW, worker_id, held, lease=now() + lease)

    async def complete(self, worker_id: str, held: Sequence[Attempt]) -> set[int]:
        """Mark jobs succeeded; returns the ids whose attempt still held them (only those
        changed)."""
        return await self._many(COMPLETE, worker_id, held, now=now())

    async def release(self, worker_id: str, held: Sequence[Attempt]) -> set[int]:
        """Give running jobs back without counting the attempt (graceful shutdown)."""
        return await self._many(RELEASE, worker_id, held, now=now())

    async def retry_at(self, worker_id: str, attempt: Attempt, run_at: float, error: str) -> bool:
        """Back to the queue, due at ``run_at``; False (nothing changed) for a stale attempt."""
        values = {"status": JobStatus.TODO.value, "run_at": run_at, "last_error": error}
        return await self._end(worker_id, attempt, values)

    async def fail(self, worker_id: str, attempt: Attempt, error: str) -> bool:
        """Given up on for good; False (nothing changed) for a stale attempt."""
        return await self._end(
            worker_id, attempt, {"status": JobStatus.FAILED.value, "last_error": error}
        )

    async def _end(self, worker_id: str, attempt: Attempt, values: dict[str, Any]) -> bool:
        params = {
            "worker": worker_id,
            "job_id": attempt.job_id,
            "attempt": attempt.number,
            "lease_until": None,
            "updated_at": now(),
            **values,
        }
        result = await (await self._session.connection()).execute(END, params)
        return result.first() is not None

    async def _many(
        self, statement: Executable, worker_id: str, held: Sequence[Attempt], **values: Any
    ) -> set[int]:
        if not held:
            return set()
        params = {
            "worker": worker_id,
            "ids": [attempt.job_id for attempt in held],
            "held": [tuple(attempt) for attempt in held],
            **values,
        }
        result = await (await self._session.connection()).execute(statement, params)
        return set(result.scalars())

    # -- operators -----------------------------------------------------------------------------
    async def recover(self) -> int:
        """At start-up of the only worker process: every 'doing' job belongs to a dead worker."""
        result = await self._session.execute(
            update(Job)
            .where(ACTIVE, col(Job.status) == JobStatus.DOING)
            .values(
                status=JobStatus.TODO,
                lease_until=None,
                worker_id=None,
                last_error=INTERRUPTED,
                updated_at=now(),
            )
        )
        return _rowcount(result)

    async def requeue_failed(
        self, *, connection_id: str | None = None, job_id: int | None = None
    ) -> int:
        """Replay dead jobs (``amo-bridge retry``): back to todo with a fresh attempt budget."""
        statement = update(Job).where(
            col(Job.status) == JobStatus.FAILED, col(Job.kind) != "rejected_update"
        )
        if connection_id is not None:
            statement = statement.where(col(Job.connection_id) == connection_id)
        if job_id is not None:
            statement = statement.where(col(Job.id) == job_id)
        moment = now()
        result = await self._session.execute(
            statement.values(
                status=JobStatus.TODO,
                attempts=0,
                run_at=moment,
                created_at=moment,
                updated_at=moment,
            )
        )
        return _rowcount(result)


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)
