"""Reads and writes the API needs that the job store does not offer (yet).

Everything here is scoped by organisation like the store's own queries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.errors import JobNotFound
from kickflow.jobs import queue
from kickflow.jobs.models import Job
from kickflow.jobs.ops import stuck
from kickflow.jobs.schema import job_events, jobs, workers
from kickflow.jobs.states import ACTIVE, JobState
from kickflow.metrics import Histogram

TERMINAL_VALUES = ("completed", "failed", "cancelled")
ACTIVE_VALUES = ("queued", "running", "paused")
FFMPEG_KILL_CODES = ("ffmpeg_stalled", "ffmpeg_timeout", "memory_exceeded")


def jobs_by_ids(conn: Connection, org_id: str, ids: Sequence[str]) -> list[Job]:
    """The organisation's jobs among ``ids``, in the order asked."""
    rows = conn.execute(sa.select(jobs).where(jobs.c.org_id == org_id, jobs.c.id.in_(ids)))
    found = {j.id: j for j in (Job.from_row(r) for r in rows.mappings())}
    return [found[i] for i in ids if i in found]


def active_job_ids(conn: Connection, org_id: str) -> list[str]:
    """Ids of the organisation's queued, running and paused jobs."""
    stmt = sa.select(jobs.c.id).where(
        jobs.c.org_id == org_id, jobs.c.state.in_([s.value for s in ACTIVE])
    )
    return [str(i) for i in conn.execute(stmt.order_by(jobs.c.created_at)).scalars()]


def delete_job(conn: Connection, org_id: str, job_id: str) -> Job:
    """Delete a job and its history; an active job is cancelled first (a running one's worker
    loses its lease at its next heartbeat and stops)."""
    job = queue.locked(conn, org_id, job_id)
    if job.state in (JobState.QUEUED, JobState.PAUSED):
        job = queue.cancel(conn, job, "cancelled: job deleted")
    conn.execute(sa.delete(job_events).where(job_events.c.job_id == job.id))
    done = conn.execute(sa.delete(jobs).where(jobs.c.id == job.id, jobs.c.org_id == org_id))
    if not done.rowcount:
        raise JobNotFound(f"no job {job_id}")
    return job


def finished_by_state(conn: Connection) -> dict[str, int]:
    """How many times jobs entered each terminal state (from the event history)."""
    stmt = (
        sa.select(job_events.c.to_state, sa.func.count())
        .where(
            job_events.c.to_state.in_(TERMINAL_VALUES),
            job_events.c.from_state != job_events.c.to_state,
        )
        .group_by(job_events.c.to_state)
    )
    return {str(state): int(n) for state, n in conn.execute(stmt).all()}


def event_codes(
    conn: Connection, kinds: Sequence[str], codes: Sequence[str] | None
) -> dict[str, int]:
    """Counts of events of ``kinds`` by code (optionally only ``codes``)."""
    stmt = sa.select(job_events.c.code, sa.func.count()).where(
        job_events.c.kind.in_(kinds), job_events.c.code.is_not(None)
    )
    if codes is not None:
        stmt = stmt.where(job_events.c.code.in_(codes))
    return {str(c): int(n) for c, n in conn.execute(stmt.group_by(job_events.c.code)).all()}


def event_count(conn: Connection, kind: str) -> int:
    stmt = sa.select(sa.func.count()).where(job_events.c.kind == kind)
    return int(conn.execute(stmt).scalar() or 0)


def histogram(
    conn: Connection,
    value: sa.ColumnElement[float],
    where: sa.ColumnElement[bool],
    bounds: Sequence[float],
) -> Histogram:
    """A cumulative histogram of ``value`` over the jobs matching ``where``, in one query."""
    cols = [sa.func.sum(sa.case((value <= b, 1), else_=0)) for b in bounds]
    stmt = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(value), 0.0), *cols).where(where)
    row = conn.execute(stmt).one()
    return Histogram(bounds, [int(c or 0) for c in row[2:]], int(row[0]), float(row[1]))


def job_durations(conn: Connection, bounds: Sequence[float]) -> Histogram:
    duration = jobs.c.finished_at - jobs.c.started_at
    done = sa.and_(jobs.c.state == "completed", jobs.c.started_at.is_not(None))
    return histogram(conn, duration, done, bounds)


def attempts(conn: Connection, bounds: Sequence[float]) -> Histogram:
    finished = jobs.c.state.in_(["completed", "failed"])
    return histogram(conn, sa.cast(jobs.c.attempt, sa.Double), finished, bounds)


def state_counts(conn: Connection, states: Sequence[str]) -> dict[str, int]:
    """Jobs (every organisation) in each of ``states``, 0 when none.

    One scalar sub-query per state: an equality on ``state`` uses the state indexes, where
    ``state IN (…) GROUP BY state`` made PostgreSQL scan the whole table."""
    counts = [
        sa.select(sa.func.count()).where(jobs.c.state == sa.literal(s)).scalar_subquery()
        for s in states
    ]
    row = conn.execute(sa.select(*counts)).one()
    return {s: int(n or 0) for s, n in zip(states, row, strict=True)}


def stuck_count(conn: Connection, stuck_after: float) -> int:
    """Running jobs (every organisation) with an expired lease or no progress."""
    return int(conn.execute(sa.select(sa.func.count()).where(stuck(stuck_after))).scalar() or 0)


def registered_workers(conn: Connection, hostname: str) -> dict[str, int]:
    """Every worker ever registered from ``hostname`` (live or not): id -> pid."""
    stmt = sa.select(workers.c.id, workers.c.pid).where(workers.c.hostname == hostname)
    return {str(i): int(pid) for i, pid in conn.execute(stmt).all()}
