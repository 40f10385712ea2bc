"""Atomic, fair claim: one ``UPDATE jobs … FROM picked … RETURNING`` statement.

Order. Fairness decides between organisations, priority only ranks an organisation's own jobs:

1. for every organisation: its cap, its running jobs, and when it was last served (its newest
   ``claimed`` event);
2. its first due queued jobs in its own order (priority descending, ``run_at``, age), as many
   as it may still start (``limit``, less when its cap is nearer), numbered ``k`` = 1, 2, … —
   an index probe per organisation, never a walk over other organisations' queues;
3. these candidates in order of ``running + k`` (the organisation with the fewest running jobs
   first; a batch is spread over organisations as if its jobs were claimed one by one), then
   the organisation served least recently (never served first), then the oldest job;
4. the first ``limit`` of them are claimed.

One tenant's 10 000 queued jobs therefore delay another tenant's single job by at most one
claim per slot. The global pause flag is honoured, and each organisation's cap on running jobs
(``organisations.max_running``, else the default; 0 = no cap) holds within one claim.

On PostgreSQL step 2 locks its candidates ``FOR UPDATE SKIP LOCKED`` (the lock re-checks that
the row is still queued), in ``MATERIALIZED`` CTEs evaluated once: concurrent claimers skip each
other's rows and take each organisation's next job instead. Candidates not chosen in step 4 are
unlocked at commit, a moment later. Claimers racing at one instant can overshoot an
organisation's cap by at most their number; they never run the same attempt. On SQLite the
statement runs in a ``BEGIN IMMEDIATE`` transaction: claimers are serialised.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from kickflow.jobs import states
from kickflow.jobs.models import Claimed, Job, Lease
from kickflow.jobs.schema import flags, job_events, jobs, kind_is_claimed, organisations, state_is
from kickflow.jobs.sqlfuncs import db_now, new_token
from kickflow.jobs.states import JobState

PAUSE_FLAG = "queue_paused"
QUEUED = JobState.QUEUED.value
RUNNING = JobState.RUNNING.value


def _not_paused() -> ColumnElement[bool]:
    return ~sa.exists().where(flags.c.name == PAUSE_FLAG, flags.c.value == "1")


def _org_standing(default_cap: ColumnElement[int]) -> sa.CTE:
    """Per organisation: cap, running jobs, newest ``claimed`` event id (NULL: never served)."""
    running, served = jobs.alias("running"), job_events.alias("served")
    n_running = (
        sa.select(sa.func.count())
        .where(running.c.org_id == organisations.c.id, state_is(RUNNING, running))
        .scalar_subquery()
    )
    last_served = (
        sa.select(sa.func.max(served.c.id))
        .where(served.c.org_id == organisations.c.id, kind_is_claimed(served))
        .scalar_subquery()
    )
    return (
        sa.select(
            organisations.c.id.label("org_id"),
            sa.func.coalesce(organisations.c.max_running, default_cap).label("cap"),
            n_running.label("running"),
            last_served.label("served"),
        )
        .cte("orgs")
        .prefix_with("MATERIALIZED")  # computed once per organisation, not per candidate
    )


def _own_order(table: NamedFromClause, dialect: str) -> tuple[ColumnElement[object], ...]:
    order: tuple[ColumnElement[object], ...] = (
        table.c.priority.desc(),
        table.c.run_at,
        table.c.created_at,
    )
    if dialect == "sqlite":  # its clock has millisecond steps: equal times go by arrival
        order += (sa.literal_column(f"{table.name}.rowid"),)
    return order


def _due_queued(table: sa.FromClause, orgs: sa.CTE) -> tuple[ColumnElement[bool], ...]:
    return (table.c.org_id == orgs.c.org_id, state_is(QUEUED, table), table.c.run_at <= db_now())


def _room(orgs: sa.CTE, limit: ColumnElement[int]) -> ColumnElement[int]:
    """How many jobs the organisation may still start in this claim."""
    below_cap = sa.func.greatest(sa.func.least(limit, orgs.c.cap - orgs.c.running), 0)
    return sa.case((orgs.c.cap > 0, below_cap), else_=limit)


def _heads(dialect: str, orgs: sa.CTE, limit: ColumnElement[int]) -> sa.CTE:
    """Each organisation's first due queued jobs in its own order, numbered ``k``."""
    q = jobs.alias("q")
    if dialect == "postgresql":
        head: NamedFromClause = (
            sa.select(q.c.id, q.c.priority, q.c.run_at, q.c.created_at)
            .where(*_due_queued(q, orgs))
            .order_by(*_own_order(q, dialect))
            .limit(_room(orgs, limit))
            .with_for_update(skip_locked=True, of=q)
            .lateral("head")
        )
        joined = orgs.join(head, sa.true())
    else:  # SQLite has no LATERAL: a correlated IN (… LIMIT) per organisation does the same
        head = jobs.alias("head")
        first = (
            sa.select(q.c.id)
            .where(*_due_queued(q, orgs))
            .order_by(*_own_order(q, dialect))
            .limit(limit)
            .correlate(orgs)
        )
        joined = orgs.join(head, head.c.id.in_(first))
    k = sa.func.row_number().over(partition_by=orgs.c.org_id, order_by=_own_order(head, dialect))
    return (
        sa.select(head.c.id, head.c.created_at, orgs.c.cap, orgs.c.running, orgs.c.served)
        .add_columns(k.label("k"))
        .select_from(joined)
        .where(_not_paused())
        .cte("heads")
        .prefix_with("MATERIALIZED")  # evaluated (and its rows locked) exactly once
    )


def _picked(dialect: str, limit: ColumnElement[int], cap: ColumnElement[int]) -> sa.CTE:
    heads = _heads(dialect, _org_standing(cap), limit)
    return (
        sa.select(heads.c.id)
        .where(sa.or_(heads.c.cap <= 0, heads.c.running + heads.c.k <= heads.c.cap))
        .order_by(
            heads.c.running + heads.c.k,
            heads.c.served.asc().nulls_first(),
            heads.c.created_at,
            heads.c.id,
        )
        .limit(limit)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )


@functools.cache
def claim_statement(dialect: str) -> sa.Update:
    """The claim for ``dialect``, built once; parameters ``worker_id``, ``lease_s``, ``cap``
    and ``limit``."""
    now = db_now()
    picked = _picked(
        dialect, sa.bindparam("limit", type_=sa.Integer), sa.bindparam("cap", type_=sa.Integer)
    )
    # No state predicate here: the pick holds its rows (locked and re-checked on PostgreSQL,
    # the write lock on SQLite), and one would let the planner walk the queued jobs' index
    # instead of the primary key.
    return (
        sa.update(jobs)
        .where(jobs.c.id == picked.c.id)
        .values(
            state=states.transition("claim").target.value,
            updated_at=now,
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
    rows = conn.execute(claim_statement(conn.dialect.name), params).mappings().all()
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
