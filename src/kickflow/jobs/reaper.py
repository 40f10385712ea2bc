"""The reaper: finds running jobs whose lease expired or whose progress stopped moving, and
re-queues them with backoff (attempt counted) or fails them with ``lease_expired`` /
``no_progress`` once attempts are exhausted. Safe on every node at once: each update is fenced
on the lease token the reaper saw, so it never races a worker's completion.

What happens to one stuck job is decided by pure functions (:func:`is_stuck`, :func:`decide`)
on the job row and the database time, so every store (SQL here, the in-memory fake in the
tests) applies exactly the same rules; the SQL part only finds the rows and writes the
decision with a fenced update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from kickflow.jobs.models import Job, Lease, ReapResult
from kickflow.jobs.ops import add_event, backoff_seconds, cleared_lease, fenced, guarded, stuck
from kickflow.jobs.schema import jobs
from kickflow.jobs.sqlfuncs import db_now
from kickflow.jobs.states import JobState

BATCH = 200


@dataclass(frozen=True)
class ReapPolicy:
    stuck_after: float
    retry_base: float
    retry_max: float


@dataclass(frozen=True)
class ReapDecision:
    """What to do with one stuck job: a transition, the event's code and message, and the
    column values to write besides the state (the lease is dropped in every case)."""

    action: str  # cancel_stuck | pause_ack | reap_requeue | reap_fail
    code: str  # lease_expired | no_progress
    message: str
    values: dict[str, Any]


def is_stuck(job: Job, now: float, stuck_after: float) -> bool:
    """Running with an expired lease, or with progress unchanged for ``stuck_after`` seconds
    (the predicate :func:`kickflow.jobs.ops.stuck` spells in SQL)."""
    if job.state is not JobState.RUNNING:
        return False
    expired = job.lease_expires_at is not None and job.lease_expires_at < now
    still = job.progress_at is not None and job.progress_at < now - stuck_after
    return expired or still


def stuck_reason(job: Job, now: float) -> tuple[str, str]:
    """(code, sentence): why ``job`` counts as stuck at ``now``. The sentence is the job
    owner's to read: it names no worker (the event's ``worker_id`` does, for operators)."""
    where = f"at {job.progress:.0f}% ({job.phase or 'starting'})"
    if job.lease_expires_at is not None and job.lease_expires_at < now:
        silent = now - job.heartbeat_at if job.heartbeat_at is not None else 0.0
        return "lease_expired", (
            f"its worker stopped heartbeating {silent:.0f} s ago {where}: lease expired"
        )
    still = now - job.progress_at if job.progress_at is not None else 0.0
    return "no_progress", f"no progress for {still:.0f} s {where}"


def _outcome(
    job: Job, code: str, now: float, policy: ReapPolicy
) -> tuple[str, str, dict[str, Any]]:
    """(action, outcome suffix, values) for a stuck job: a pending cancel or pause request
    wins, then a retry while attempts remain, else failure."""
    if job.cancel_requested:
        return (
            "cancel_stuck",
            "cancelled as requested",
            {"error_code": "cancelled", "finished_at": now},
        )
    if job.pause_requested:
        refund = {"attempt": job.attempt - 1, "pause_requested": False}
        return "pause_ack", "paused as requested", refund
    if job.attempt < job.max_attempts:
        delay = backoff_seconds(job.attempt, policy.retry_base, policy.retry_max)
        outcome = f"re-queued (attempt {job.attempt} of {job.max_attempts} used)"
        return "reap_requeue", outcome, {"run_at": now + delay, "error_code": code}
    outcome = f"failed after {job.attempt} attempts"
    return "reap_fail", outcome, {"error_code": code, "finished_at": now}


def decide(job: Job, now: float, policy: ReapPolicy) -> ReapDecision:
    """The reaper's decision for one stuck running ``job`` at database time ``now``."""
    code, reason = stuck_reason(job, now)
    action, outcome, values = _outcome(job, code, now, policy)
    message = f"{reason} — {outcome}"
    common = {
        "error_message": message,
        "lease_losses": job.lease_losses + 1,
        "progress": 0.0,
        "phase": None,
        **cleared_lease(),
    }
    return ReapDecision(action, code, message, {**common, **values})


def lease_of(job: Job) -> Lease:
    """The lease the reaper saw on ``job``: its update is fenced on exactly that."""
    return Lease(job.id, job.lease_token or "", job.attempt, job.worker_id or "")


def _stuck_rows(conn: Connection, policy: ReapPolicy) -> list[RowMapping]:
    stmt = (
        sa.select(jobs, db_now().label("now"))
        .where(stuck(policy.stuck_after))
        .limit(BATCH)
        .with_for_update(skip_locked=True, of=jobs)
    )
    return list(conn.execute(stmt).mappings().all())


def _reap_one(conn: Connection, job: Job, now: float, policy: ReapPolicy) -> str | None:
    decision = decide(job, now, policy)
    stmt = (
        guarded(decision.action, fenced(lease_of(job)))
        .values(**decision.values)
        .returning(jobs.c.state)
    )
    new_state = conn.execute(stmt).scalar()
    if new_state is None:
        return None
    add_event(conn, job, "reaped", to_state=new_state, code=decision.code, message=decision.message)
    return str(new_state)


def reap(conn: Connection, policy: ReapPolicy) -> ReapResult:
    """One reaper pass over up to BATCH stuck jobs."""
    out: dict[str, list[str]] = {"queued": [], "failed": [], "cancelled": [], "paused": []}
    for row in _stuck_rows(conn, policy):
        new_state = _reap_one(conn, Job.from_row(row), float(row["now"]), policy)
        if new_state is not None:
            out[new_state].append(str(row["id"]))
    return ReapResult(out["queued"], out["failed"], out["cancelled"], out["paused"])
