"""The job queue's statements, built once: the claim (as SQL text, so that SQLite's planner
sees the partial indexes' condition), and the fenced writes that end or renew a claim."""

from __future__ import annotations

from sqlalchemy import ColumnElement, TextClause, bindparam, text, tuple_, update

from storage import dialect
from storage.models import Job, JobStatus

# The condition of the partial indexes, as literal SQL: SQLite uses a partial index only when
# the query's WHERE implies the index's at prepare time, which a bound parameter never does
# (the next-due lookup, with ``status IN (?, ?)``, read all 1.5M finished jobs: 270 ms).
ACTIVE = text("job.status IN ('todo', 'doing')")

_CANDIDATE = """
    SELECT j.id FROM job j {walk}
    WHERE j.status IN ('todo', 'doing')  -- lets the planner use the partial index
      AND ((j.status = 'todo' AND j.run_at <= :now)
           OR (j.status = 'doing' AND j.lease_until < :now))
      AND (j.lock_key IS NULL OR (
            NOT EXISTS (SELECT 1 FROM job d
                        WHERE d.lock_key = j.lock_key AND d.status IN ('todo', 'doing')
                          AND d.status = 'doing'
                          AND d.id <> j.id AND d.lease_until >= :now)
        AND NOT EXISTS (SELECT 1 FROM job e
                        WHERE e.lock_key = j.lock_key AND e.id < j.id
                          AND e.status IN ('todo', 'doing'))))
    ORDER BY j.id
    LIMIT :limit{lock}
"""

# A job still 'doing' when claimed lost its worker mid-run (its lease ran out): that attempt
# ended without a word, so the claim says so in last_error (SET sees the row's old status).
_CLAIM = """
UPDATE job SET status = 'doing', worker_id = :worker, lease_until = :lease,
               attempts = attempts + 1, updated_at = :now,
               last_error = CASE WHEN status = 'doing' THEN :interrupted ELSE last_error END
WHERE id IN ({candidate})
RETURNING id, kind, payload, attempts, connection_id, last_error
"""

TABLE = Job.__table__  # type: ignore[attr-defined]


def _claim_statement(name: str) -> TextClause:
    walk, lock = dialect.claim_walk(name)
    return text(_CLAIM.format(candidate=_CANDIDATE.format(walk=walk, lock=lock)))


# Built once per dialect: ``text()`` scans the SQL for parameters with a regex each time.
CLAIMS = {name: _claim_statement(name) for name in (dialect.SQLITE, dialect.POSTGRESQL)}


def _fenced(*, many: bool) -> ColumnElement[bool]:
    """The WHERE of a write only the attempt holding a job may make."""
    owned = (TABLE.c.status == JobStatus.DOING.value) & (TABLE.c.worker_id == bindparam("worker"))
    if many:
        # ``id IN`` first: each job is found by its key, the attempt then checked on the row.
        held = TABLE.c.id.in_(bindparam("ids", expanding=True)) & tuple_(
            TABLE.c.id, TABLE.c.attempts
        ).in_(bindparam("held", expanding=True))
    else:
        held = (TABLE.c.id == bindparam("job_id")) & (TABLE.c.attempts == bindparam("attempt"))
    fenced: ColumnElement[bool] = held & owned
    return fenced


COMPLETE = (
    update(TABLE)
    .where(_fenced(many=True))
    .values(
        status=JobStatus.SUCCEEDED.value,
        lease_until=None,
        last_error=None,
        updated_at=bindparam("now"),
    )
    .returning(TABLE.c.id)
)
RENEW = (
    update(TABLE)
    .where(_fenced(many=True))
    .values(lease_until=bindparam("lease"))
    .returning(TABLE.c.id)
)
RELEASE = (
    update(TABLE)
    .where(_fenced(many=True))
    .values(
        status=JobStatus.TODO.value,
        lease_until=None,
        worker_id=None,
        attempts=TABLE.c.attempts - 1,
        updated_at=bindparam("now"),
    )
    .returning(TABLE.c.id)
)
END = (  # retry (back to todo, later) or fail: the values come with the parameters
    update(TABLE).where(_fenced(many=False)).returning(TABLE.c.id)
)
