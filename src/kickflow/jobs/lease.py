"""Worker-side writes. Every one is fenced on ``(id, lease_token, state='running')``: when no
row matches, the lease is lost and the function returns None (nothing written); the store then
records a ``fenced`` event and raises :class:`~kickflow.errors.LeaseLost`, so the worker kills
FFmpeg and drops its outputs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.jobs.models import HeartbeatReply, Job, Lease
from kickflow.jobs.ops import add_event, backoff_seconds, cleared_lease, fenced, guarded
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


def heartbeat(
    conn: Connection, lease: Lease, progress: float, phase: str, lease_seconds: float
) -> HeartbeatReply:
    """Extend the lease and store progress; ``progress_at`` moves only when progress moves."""
    now = db_now()
    moved = sa.or_(jobs.c.progress != progress, jobs.c.phase.is_distinct_from(phase))
    stmt = (
        sa.update(jobs)
        .where(fenced(lease))
        .values(
            heartbeat_at=now,
            lease_expires_at=now + lease_seconds,
            progress_at=sa.case((moved, now), else_=jobs.c.progress_at),
            progress=progress,
            phase=phase,
            updated_at=now,
        )
        .returning(jobs.c.cancel_requested, jobs.c.pause_requested)
    )
    row = conn.execute(stmt).first()
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


def complete(conn: Connection, lease: Lease, verdict: str, report: dict[str, Any]) -> Job | None:
    """Accept the attempt's result: at most one accepted result per job (fenced)."""
    return _finish(
        conn,
        lease,
        "complete",
        "completed",
        f"verdict {verdict}",
        verdict=verdict,
        report=report,
        progress=100.0,
        phase="done",
        progress_at=db_now(),
        finished_at=db_now(),
        error_code=None,
        error_message=None,
        **cleared_lease(),
    )


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
