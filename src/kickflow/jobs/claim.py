"""Atomic claim: one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``.

On PostgreSQL the sub-select skips rows other claimers hold; on SQLite the statement runs in a
``BEGIN IMMEDIATE`` transaction, so claimers are serialised. Order: priority (higher first),
then ``run_at``, then age. Honours the global pause flag and each organisation's cap on running
jobs (on PostgreSQL concurrent claimers of one organisation can overshoot the cap by at most
the number of claimers racing at that instant; they never run the same attempt).
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from kickflow.jobs.models import Claimed, Job, Lease
from kickflow.jobs.ops import guarded
from kickflow.jobs.schema import flags, job_events, jobs, organisations, state_is
from kickflow.jobs.sqlfuncs import db_now, new_token
from kickflow.jobs.states import JobState

PAUSE_FLAG = "queue_paused"
QUEUED = JobState.QUEUED.value
RUNNING = JobState.RUNNING.value


def _not_paused() -> ColumnElement[bool]:
    return ~sa.exists().where(flags.c.name == PAUSE_FLAG, flags.c.value == "1")


def _under_cap(default_cap: ColumnElement[int]) -> ColumnElement[bool]:
    running = jobs.alias("running")
    n_running = (
        sa.select(sa.func.count())
        .where(running.c.org_id == jobs.c.org_id, running.c.state == RUNNING)
        .scalar_subquery()
    )
    org_cap = (
        sa.select(organisations.c.max_running)
        .where(organisations.c.id == jobs.c.org_id)
        .scalar_subquery()
    )
    cap = sa.func.coalesce(org_cap, default_cap)
    return sa.or_(cap <= 0, n_running < cap)


def _candidates(limit: ColumnElement[int], default_cap: ColumnElement[int]) -> sa.CTE:
    # MATERIALIZED: the locked pick is computed once; an IN (sub-select … LIMIT) may be
    # re-scanned by PostgreSQL's planner and then return more rows than the limit.
    return (
        sa.select(jobs.c.id)
        .where(
            state_is(QUEUED),  # inlined, so SQLite can use the partial claim index
            jobs.c.run_at <= db_now(),
            _not_paused(),
            _under_cap(default_cap),
        )
        .order_by(jobs.c.priority.desc(), jobs.c.run_at, jobs.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=jobs)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )


@functools.cache
def claim_statement() -> sa.Update:
    """The claim, built once; parameters ``worker_id``, ``lease_s``, ``cap``, ``limit``."""
    now = db_now()
    picked = _candidates(
        sa.bindparam("limit", type_=sa.Integer), sa.bindparam("cap", type_=sa.Integer)
    )
    return (
        guarded("claim", jobs.c.id == picked.c.id)
        .values(
            attempt=jobs.c.attempt + 1,
            lease_token=new_token(),
            lease_expires_at=now + sa.bindparam("lease_s", type_=sa.Double),
            worker_id=sa.bindparam("worker_id", type_=sa.String),
            heartbeat_at=now,
            progress=0,
            progress_at=now,
            phase="initializing",
            started_at=now,
            finished_at=None,
        )
        .returning(*jobs.c)
    )


def claim(
    conn: Connection, worker_id: str, *, lease_seconds: float, default_cap: int, limit: int = 1
) -> list[Claimed]:
    """Claim up to ``limit`` due jobs for ``worker_id``: attempt += 1, fresh lease token."""
    params = {"worker_id": worker_id, "lease_s": lease_seconds, "cap": default_cap, "limit": limit}
    rows = conn.execute(claim_statement(), params).mappings().all()
    claimed = [Job.from_row(r) for r in rows]
    if claimed:
        conn.execute(sa.insert(job_events), [_claim_event(j) for j in claimed])
    return [Claimed(j, Lease(j.id, j.lease_token or "", j.attempt, worker_id)) for j in claimed]


def _claim_event(job: Job) -> dict[str, object]:
    return {
        "job_id": job.id,
        "org_id": job.org_id,
        "at": job.started_at,
        "kind": "claimed",
        "from_state": QUEUED,
        "to_state": RUNNING,
        "attempt": job.attempt,
        "worker_id": job.worker_id,
        "code": None,
        "message": f"attempt {job.attempt} of {job.max_attempts} claimed by {job.worker_id}",
    }
