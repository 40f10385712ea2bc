"""Counters and histograms over every organisation's jobs and their event history, for
``/metrics``. Read-only; one query per number."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.jobs.schema import job_events, jobs
from kickflow.metrics import Histogram

TERMINAL_VALUES = ("completed", "failed", "cancelled")
# The error codes of attempts the FFmpeg watchdog killed.
FFMPEG_KILL_CODES = ("ffmpeg_stalled", "ffmpeg_timeout", "memory_exceeded")


@dataclass(frozen=True)
class JobHistory:
    """The event-history side of the metrics: counters only go down when jobs are deleted."""

    finished_by_state: dict[str, int]
    recoveries_by_reason: dict[str, int]
    ffmpeg_kills_by_reason: dict[str, int]
    fenced_writes: int
    job_duration: Histogram
    attempts: Histogram


def history(
    conn: Connection, duration_bounds: Sequence[float], attempt_bounds: Sequence[float]
) -> JobHistory:
    """Every number of :class:`JobHistory`, in one read transaction."""
    return JobHistory(
        finished_by_state=finished_by_state(conn),
        recoveries_by_reason=event_codes(conn, ["reaped"], None),
        ffmpeg_kills_by_reason=event_codes(conn, ["failed", "retry_scheduled"], FFMPEG_KILL_CODES),
        fenced_writes=event_count(conn, "fenced"),
        job_duration=job_durations(conn, duration_bounds),
        attempts=attempts(conn, attempt_bounds),
    )


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
