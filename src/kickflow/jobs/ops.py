"""SQL building blocks shared by the queue operations: guarded transitions, fencing, events."""

from __future__ import annotations

import functools
import random
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Update

from kickflow.jobs import states
from kickflow.jobs.models import Job, Lease
from kickflow.jobs.schema import job_events, jobs, state_is
from kickflow.jobs.sqlfuncs import db_now

RUNNING = states.JobState.RUNNING.value


def guarded(action: str, *where: ColumnElement[bool]) -> Update:
    """``UPDATE jobs SET state=<target>`` allowed only from the action's source states."""
    t = states.transition(action)
    cond = (
        jobs.c.state.in_(t.source_values)
        if len(t.sources) > 1
        else jobs.c.state == t.source_values[0]
    )
    return sa.update(jobs).where(cond, *where).values(state=t.target.value, updated_at=db_now())


def fenced(lease: Lease | None = None) -> ColumnElement[bool]:
    """The predicate every worker write carries: same job, same lease token, still running.
    Without a lease it uses the bind parameters ``job_id`` and ``token``."""
    job_id = sa.bindparam("job_id", type_=sa.String) if lease is None else lease.job_id
    token = sa.bindparam("token", type_=sa.String) if lease is None else lease.token
    return sa.and_(jobs.c.id == job_id, jobs.c.lease_token == token, jobs.c.state == RUNNING)


def stuck(stuck_after: float) -> ColumnElement[bool]:
    """Running with an expired lease, or with progress unchanged for ``stuck_after`` seconds."""
    now = db_now()
    return sa.and_(
        state_is(RUNNING),  # inlined, so SQLite can use the partial index of running jobs
        sa.or_(jobs.c.lease_expires_at < now, jobs.c.progress_at < now - stuck_after),
    )


def cleared_lease() -> dict[str, Any]:
    """Column values that drop a lease (the job is no longer owned by any worker)."""
    return {"lease_token": None, "lease_expires_at": None, "worker_id": None}


def load_for_update(conn: Connection, where: ColumnElement[bool]) -> Job | None:
    """The job matching ``where``, row-locked on PostgreSQL (SQLite holds the write lock)."""
    row = conn.execute(sa.select(jobs).where(where).with_for_update()).mappings().first()
    return Job.from_row(row) if row else None


@functools.cache
def event_insert() -> sa.Insert:
    """``INSERT INTO job_events`` stamped with the database clock (built once)."""
    return sa.insert(job_events).values(at=db_now())


def add_event(
    conn: Connection,
    job: Job,
    kind: str,
    *,
    to_state: str | None = None,
    from_state: str | None = None,
    code: str | None = None,
    message: str | None = None,
    attempt: int | None = None,
    worker_id: str | None = None,
) -> None:
    """Append one line to a job's history."""
    conn.execute(
        event_insert(),
        {
            "job_id": job.id,
            "org_id": job.org_id,
            "kind": kind,
            "from_state": None if kind == "enqueued" else (from_state or job.state.value),
            "to_state": to_state,
            "attempt": job.attempt if attempt is None else attempt,
            "worker_id": worker_id or job.worker_id,
            "code": code,
            "message": message,
        },
    )


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with up to 25 % random jitter, capped at ``cap``."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return float(delay) * (1.0 + random.random() * 0.25)  # noqa: S311 - jitter, not security
