"""Worker-side writes. Every one is fenced on ``(id, lease_token, state='running')``: when no
row matches, the lease is lost and the function returns None (nothing written); the store then
records a ``fenced`` event and raises :class:`~kickflow.errors.LeaseLost`, so the worker kills
FFmpeg and drops its outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.jobs.models import HeartbeatReply, Job, Lease
from kickflow.jobs.ops import (
    add_event,
    backoff_seconds,
    cleared_lease,
    event_insert,
    fenced,
    guarded,
)
from kickflow.jobs.schema import job_events, jobs
from kickflow.jobs.sqlfuncs import db_now


def record_fenced(conn: Connection, lease: Lease, what: str) -> None:
    """Count a rejected write in the job's history (the ``fenced`` events are the counter)."""
    org = conn.execute(sa.select(jobs.c.org_id).where(jobs.c.id == lease.job_id)).scalar()
    if org is None:
        return
    conn.execute(
        sa.insert(job_events).values(
            job_id=lease.job_id,
            org_id=org,
            at=db_now(),
            kind="fenced",
            attempt=lease.attempt,
            worker_id=lease.worker_id,
            code="lease_lost",
            message=f"rejected {what} from {lease.worker_id} (attempt {lease.attempt}): lease lost",
        )
    )


@functools.cache
def heartbeat_statement() -> sa.Update:
    """The fenced heartbeat (built once); ``progress_at`` moves only when progress moves."""
    now = db_now()
    progress = sa.bindparam("progress", type_=sa.Double)
    phase = sa.bindparam("phase", type_=sa.String)
    moved = sa.or_(jobs.c.progress != progress, jobs.c.phase.is_distinct_from(phase))
    return (
        sa.update(jobs)
        .where(fenced())
        .values(
            heartbeat_at=now,
            lease_expires_at=now + sa.bindparam("lease_s", type_=sa.Double),
            progress_at=sa.case((moved, now), else_=jobs.c.progress_at),
            progress=progress,
            phase=phase,
            updated_at=now,
        )
        .returning(jobs.c.cancel_requested, jobs.c.pause_requested)
    )


def heartbeat(
    conn: Connection, lease: Lease, progress: float, phase: str, lease_seconds: float
) -> HeartbeatReply:
    """Extend the lease and store progress; the reply says lease held / cancel / pause."""
    params = {"job_id": lease.job_id, "token": lease.token, "progress": progress,
              "phase": phase, "lease_s": lease_seconds}  # fmt: skip
    row = conn.execute(heartbeat_statement(), params).first()
    if row is None:
        return HeartbeatReply(lease_held=False)
    return HeartbeatReply(True, bool(row.cancel_requested), bool(row.pause_requested))


def _finish(
    conn: Connection, lease: Lease, action: str, kind: str, message: str | None, **values: Any
) -> Job | None:
    """Run a fenced transition; None when the lease is lost (nothing was written)."""
    stmt = guarded(action, fenced(lease)).values(**values).returning(*jobs.c)
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    job = Job.from_row(row)
    add_event(
        conn,
        job,
        kind,
        from_state="running",
        to_state=job.state.value,
        code=values.get("error_code"),
        message=message,
        attempt=lease.attempt,
        worker_id=lease.worker_id,
    )
    return job


@functools.cache
def complete_statement() -> sa.Update:
    """The fenced completion (built once): parameters ``job_id``, ``token``, verdict, report."""
    now = db_now()
    return (
        guarded("complete", fenced())
        .values(
            verdict=sa.bindparam("verdict", type_=sa.String),
            report=sa.bindparam("report", type_=jobs.c.report.type),
            progress=100.0,
            phase="done",
            progress_at=now,
            finished_at=now,
            error_code=None,
            error_message=None,
            **cleared_lease(),
        )
        .returning(*jobs.c)
    )


def complete(conn: Connection, lease: Lease, verdict: str, report: dict[str, Any]) -> Job | None:
    """Accept the result: at most one accepted result per job (fenced)."""
    params = {"job_id": lease.job_id, "token": lease.token, "verdict": verdict, "report": report}
    row = conn.execute(complete_statement(), params).mappings().first()
    if row is None:
        return None
    job = Job.from_row(row)
    add_event(
        conn,
        job,
        "completed",
        from_state="running",
        to_state=job.state.value,
        message=f"verdict {verdict}",
        attempt=lease.attempt,
        worker_id=lease.worker_id,
    )
    return job


def complete_many(
    conn: Connection, results: Sequence[tuple[Lease, str, dict[str, Any]]]
) -> list[bool]:
    """Complete several attempts with one fenced ``WITH batch AS (VALUES …) UPDATE … FROM
    batch``; True where the result was accepted."""
    if not results:
        return []
    batch = (
        sa.values(
            sa.column("id", sa.String),
            sa.column("token", sa.String),
            sa.column("verdict", sa.String),
            sa.column("report", sa.JSON),
            name="batch",
        )
        .data([(lease.job_id, lease.token, v, r) for lease, v, r in results])
        .cte("batch")
    )
    now = db_now()
    stmt = (
        guarded("complete", jobs.c.id == batch.c.id, jobs.c.lease_token == batch.c.token)
        .values(
            verdict=batch.c.verdict, report=batch.c.report,
            progress=100.0, phase="done", progress_at=now, finished_at=now,
            error_code=None, error_message=None, **cleared_lease(),
        )
        .returning(jobs.c.id, jobs.c.org_id)
    )  # fmt: skip
    done: dict[str, str] = {str(i): str(o) for i, o in conn.execute(stmt).all()}
    events = [_completed_event(done[ls.job_id], ls, v) for ls, v, _ in results if ls.job_id in done]
    if events:
        conn.execute(event_insert(), events)
    return [ls.job_id in done for ls, _, _ in results]


def _completed_event(org_id: str, lease: Lease, verdict: str) -> dict[str, Any]:
    return {
        "job_id": lease.job_id, "org_id": org_id, "kind": "completed",
        "from_state": "running", "to_state": "completed", "attempt": lease.attempt,
        "worker_id": lease.worker_id, "code": None, "message": f"verdict {verdict}",
    }  # fmt: skip


def fail(
    conn: Connection,
    lease: Lease,
    code: str,
    message: str,
    *,
    permanent: bool,
    retry_base: float,
    retry_max: float,
) -> Job | None:
    """Permanent or last attempt ⇒ failed; otherwise back to queued after a backoff."""
    max_attempts = conn.execute(
        sa.select(jobs.c.max_attempts).where(fenced(lease)).with_for_update()
    ).scalar()
    if max_attempts is None:
        return None
    common = {"error_code": code, "error_message": message, **cleared_lease()}
    if permanent or lease.attempt >= max_attempts:
        return _finish(conn, lease, "fail", "failed", message, finished_at=db_now(), **common)
    delay = backoff_seconds(lease.attempt, retry_base, retry_max)
    return _finish(
        conn,
        lease,
        "retry_later",
        "retry_scheduled",
        f"{message} (retry in {delay:.0f} s)",
        run_at=db_now() + delay,
        **common,
    )


def release(conn: Connection, lease: Lease, reason: str) -> Job | None:
    """Hand the job back to the queue without using up an attempt (graceful shutdown)."""
    return _finish(
        conn,
        lease,
        "release",
        "released",
        reason,
        attempt=jobs.c.attempt - 1,
        run_at=db_now(),
        progress=0,
        phase=None,
        **cleared_lease(),
    )


def acknowledge_cancel(conn: Connection, lease: Lease, message: str) -> Job | None:
    """The worker stopped after a cancel request: the job ends cancelled."""
    return _finish(
        conn,
        lease,
        "cancel_ack",
        "cancelled",
        message,
        error_code="cancelled",
        error_message=message,
        finished_at=db_now(),
        **cleared_lease(),
    )


def acknowledge_pause(conn: Connection, lease: Lease, message: str) -> Job | None:
    """The worker stopped after a pause request: paused, attempt refunded, restarts from 0."""
    return _finish(
        conn,
        lease,
        "pause_ack",
        "paused",
        message,
        attempt=jobs.c.attempt - 1,
        pause_requested=False,
        progress=0,
        phase=None,
        **cleared_lease(),
    )
