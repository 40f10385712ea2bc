"""The reaper: finds running jobs whose lease expired or whose progress stopped moving, and
re-queues them with backoff (attempt counted) or fails them with ``lease_expired`` /
``no_progress`` once attempts are exhausted. Safe on every node at once: each update is fenced
on the lease token the reaper saw, so it never races a worker's completion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from kickflow.jobs.models import Job, Lease, ReapResult
from kickflow.jobs.ops import add_event, backoff_seconds, cleared_lease, fenced, guarded, stuck
from kickflow.jobs.schema import jobs
from kickflow.jobs.sqlfuncs import db_now

BATCH = 200


@dataclass(frozen=True)
class ReapPolicy:
    stuck_after: float
    retry_base: float
    retry_max: float


def _stuck_rows(conn: Connection, policy: ReapPolicy) -> list[RowMapping]:
    now = db_now()
    stmt = (
        sa.select(
            jobs,
            (jobs.c.lease_expires_at < now).label("expired"),
            (now - jobs.c.heartbeat_at).label("silent_for"),
            (now - jobs.c.progress_at).label("still_for"),
        )
        .where(stuck(policy.stuck_after))
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=jobs)
    )
    return list(conn.execute(stmt).mappings().all())


def _describe(job: Job, row: RowMapping) -> tuple[str, str]:
    where = f"at {job.progress:.0f}% ({job.phase or 'starting'})"
    if row["expired"]:
        silent = float(row["silent_for"] or 0)
        return "lease_expired", (
            f"worker {job.worker_id} stopped heartbeating {silent:.0f} s ago {where}: lease expired"
        )
    still = float(row["still_for"] or 0)
    return "no_progress", f"no progress for {still:.0f} s {where} on worker {job.worker_id}"


def _decide(job: Job, code: str, policy: ReapPolicy) -> tuple[str, str, dict[str, Any]]:
    """(action, outcome suffix, column values) for one stuck job."""
    if job.cancel_requested:
        return (
            "cancel_stuck",
            "cancelled as requested",
            {
                "error_code": "cancelled",
                "finished_at": db_now(),
            },
        )
    if job.pause_requested:
        return (
            "pause_ack",
            "paused as requested",
            {
                "attempt": jobs.c.attempt - 1,
                "pause_requested": False,
            },
        )
    if job.attempt < job.max_attempts:
        delay = backoff_seconds(job.attempt, policy.retry_base, policy.retry_max)
        return (
            "reap_requeue",
            f"re-queued (attempt {job.attempt} of {job.max_attempts} used)",
            {
                "run_at": db_now() + delay,
                "error_code": code,
            },
        )
    return (
        "reap_fail",
        f"failed after {job.attempt} attempts",
        {
            "error_code": code,
            "finished_at": db_now(),
        },
    )


def _reap_one(conn: Connection, row: RowMapping, policy: ReapPolicy) -> str | None:
    job = Job.from_row(row)
    code, reason = _describe(job, row)
    action, outcome, values = _decide(job, code, policy)
    lease = Lease(job.id, job.lease_token or "", job.attempt, job.worker_id or "")
    message = f"{reason} — {outcome}"
    stmt = (
        guarded(action, fenced(lease))
        .values(
            error_message=message,
            lease_losses=jobs.c.lease_losses + 1,
            progress=0,
            phase=None,
            **cleared_lease(),
            **values,
        )
        .returning(jobs.c.state)
    )
    new_state = conn.execute(stmt).scalar()
    if new_state is None:
        return None
    add_event(conn, job, "reaped", to_state=new_state, code=code, message=message)
    return str(new_state)


def reap(conn: Connection, policy: ReapPolicy) -> ReapResult:
    """One reaper pass over up to BATCH stuck jobs."""
    out: dict[str, list[str]] = {"queued": [], "failed": [], "cancelled": [], "paused": []}
    for row in _stuck_rows(conn, policy):
        new_state = _reap_one(conn, row, policy)
        if new_state is not None:
            out[new_state].append(str(row["id"]))
    return ReapResult(out["queued"], out["failed"], out["cancelled"], out["paused"])
