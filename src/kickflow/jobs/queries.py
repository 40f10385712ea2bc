"""Read-only queries: one job, lists with cursor pagination, history, counts, stuck jobs."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.errors import JobError, JobNotFound
from kickflow.jobs.listing import JobFilter
from kickflow.jobs.models import Job, JobEvent
from kickflow.jobs.ops import stuck
from kickflow.jobs.schema import job_events, jobs
from kickflow.jobs.sqlfuncs import db_now, like_folded
from kickflow.jobs.states import ACTIVE, JobState

ERROR_KINDS = ("failed", "retry_scheduled", "reaped", "fenced")
NO_FILTER = JobFilter()
LISTED = [c for c in jobs.c if c.name != "report"]  # a list's columns


@dataclass(frozen=True)
class Page:
    """One page of jobs, newest first; ``next_cursor`` is None on the last page."""

    jobs: list[Job]
    next_cursor: str | None


def _scoped(org_id: str | None) -> sa.ColumnElement[bool]:
    return sa.true() if org_id is None else jobs.c.org_id == org_id


def get(conn: Connection, org_id: str | None, job_id: str) -> Job:
    """The job, scoped to ``org_id`` (None = any organisation); JobNotFound otherwise."""
    row = (
        conn.execute(sa.select(jobs).where(jobs.c.id == job_id, _scoped(org_id))).mappings().first()
    )
    if row is None:
        raise JobNotFound(f"no job {job_id}")
    return Job.from_row(row)


def jobs_by_ids(conn: Connection, org_id: str | None, ids: Sequence[str]) -> list[Job]:
    """The jobs among ``ids`` in ``org_id`` (None = any organisation), in the order asked;
    unknown ids are left out."""
    rows = conn.execute(sa.select(jobs).where(jobs.c.id.in_(list(ids)), _scoped(org_id)))
    found = {j.id: j for j in (Job.from_row(r) for r in rows.mappings())}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def active_job_ids(conn: Connection, org_id: str | None) -> list[str]:
    """Ids of the queued, running and paused jobs, oldest first."""
    stmt = sa.select(jobs.c.id).where(
        jobs.c.state.in_(sorted(s.value for s in ACTIVE)), _scoped(org_id)
    )
    return [str(i) for i in conn.execute(stmt.order_by(jobs.c.created_at, jobs.c.id)).scalars()]


def encode_cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(json.dumps([job.created_at, job.id]).encode()).decode()


CURSOR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """(created_at, job id) of a cursor from :func:`encode_cursor`; JobError for anything else."""
    refused = JobError("invalid cursor: pass back the nextCursor value unchanged")
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        decoded = float(created), str(job_id)
    except (ValueError, TypeError) as exc:
        raise refused from exc
    if not CURSOR_ID.fullmatch(decoded[1]):
        raise refused
    return decoded


def _filtered(where: JobFilter) -> list[sa.ColumnElement[bool]]:
    """The WHERE terms of ``where``. Each equality has an index that ends in (created_at, id)
    and the text search runs on the (created_at, id, file_name) index, so any single filter is
    read in the list's order from one index, without touching the table rows."""
    terms: list[sa.ColumnElement[bool]] = []
    for column, value in (
        (jobs.c.state, where.state),
        (jobs.c.verdict, where.verdict),
        (jobs.c.project, where.project),
        (jobs.c.profile, where.profile),
    ):
        if value:
            terms.append(column == value)
    pattern = where.like_pattern()
    if pattern is not None:
        terms.append(like_folded(jobs.c.file_name, sa.literal(pattern)))
    if where.created_from is not None:
        terms.append(jobs.c.created_at >= where.created_from)
    if where.created_to is not None:
        terms.append(jobs.c.created_at < where.created_to)
    return terms


def list_jobs(
    conn: Connection,
    org_id: str | None,
    where: JobFilter = NO_FILTER,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Jobs newest first, filtered; pass ``next_cursor`` back for the next page.

    Two steps in one statement: the page's ids from an index alone (an index-only scan, however
    many rows a rare text search passes over), then those rows by primary key. Selecting whole
    rows while filtering made PostgreSQL read the table (reports included) for every job. The
    jobs of a page carry no report (``report`` is None): decoding 50 of them was most of the
    time of a page, and no list shows one."""
    ids = sa.select(jobs.c.id, jobs.c.created_at).where(_scoped(org_id), *_filtered(where))
    if cursor:
        created, job_id = decode_cursor(cursor)
        ids = ids.where(sa.tuple_(jobs.c.created_at, jobs.c.id) < sa.tuple_(created, job_id))
    page_ids = (
        ids.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit + 1).subquery("page")
    )
    stmt = (
        sa.select(*LISTED, sa.null().label("report"))
        .join(page_ids, page_ids.c.id == jobs.c.id)
        .order_by(page_ids.c.created_at.desc(), page_ids.c.id.desc())
    )
    rows = [Job.from_row(r) for r in conn.execute(stmt).mappings().all()]
    more = len(rows) > limit
    page = rows[:limit]
    return Page(page, encode_cursor(page[-1]) if more and page else None)


def events(conn: Connection, org_id: str | None, job_id: str) -> list[JobEvent]:
    """A job's history, oldest first."""
    stmt = sa.select(job_events).where(job_events.c.job_id == job_id)
    if org_id is not None:
        stmt = stmt.where(job_events.c.org_id == org_id)
    rows = conn.execute(stmt.order_by(job_events.c.id)).mappings().all()
    return [JobEvent.from_row(r) for r in rows]


def recent_errors(conn: Connection, org_id: str | None, limit: int = 20) -> list[JobEvent]:
    """The latest failures, retries, reaper recoveries and fenced writes, newest first."""
    stmt = sa.select(job_events).where(job_events.c.kind.in_(ERROR_KINDS))
    if org_id is not None:
        stmt = stmt.where(job_events.c.org_id == org_id)
    rows = conn.execute(stmt.order_by(job_events.c.id.desc()).limit(limit)).mappings().all()
    return [JobEvent.from_row(r) for r in rows]


def counts(conn: Connection, org_id: str | None, stuck_after: float) -> dict[str, int]:
    """Jobs per state (every state present, 0 if none) plus ``stuck``."""
    out = {s.value: 0 for s in JobState}
    stmt = sa.select(jobs.c.state, sa.func.count()).where(_scoped(org_id)).group_by(jobs.c.state)
    for state, n in conn.execute(stmt).all():
        out[str(state)] = int(n)
    n_stuck = conn.execute(
        sa.select(sa.func.count()).where(stuck(stuck_after), _scoped(org_id))
    ).scalar()
    out["stuck"] = int(n_stuck or 0)
    return out


def state_counts(conn: Connection, states: Sequence[str]) -> dict[str, int]:
    """Jobs (every organisation) in each of ``states``, 0 when none.

    One scalar sub-query per state: an equality on ``state`` uses the state indexes, where
    ``state IN (…) GROUP BY state`` made PostgreSQL scan the whole table."""
    wanted = [JobState(s).value for s in states]
    if not wanted:
        return {}
    counts = [
        sa.select(sa.func.count()).where(jobs.c.state == sa.literal(s)).scalar_subquery()
        for s in wanted
    ]
    row = conn.execute(sa.select(*counts)).one()
    return {s: int(n or 0) for s, n in zip(wanted, row, strict=True)}


def stuck_count(conn: Connection, stuck_after: float) -> int:
    """Running jobs (every organisation) with an expired lease or no progress."""
    return int(conn.execute(sa.select(sa.func.count()).where(stuck(stuck_after))).scalar() or 0)


def stuck_jobs(
    conn: Connection, org_id: str | None, stuck_after: float, limit: int = 100
) -> list[Job]:
    """Running jobs whose lease expired or whose progress stopped moving."""
    stmt = sa.select(jobs).where(stuck(stuck_after), _scoped(org_id)).limit(limit)
    return [Job.from_row(r) for r in conn.execute(stmt.order_by(jobs.c.started_at)).mappings()]


def oldest_queued_age(conn: Connection, org_id: str | None = None) -> float | None:
    """Seconds the oldest due queued job has waited, or None when nothing is queued."""
    stmt = sa.select(db_now() - sa.func.min(jobs.c.run_at)).where(
        jobs.c.state == JobState.QUEUED.value, _scoped(org_id)
    )
    age = conn.execute(stmt).scalar()
    return None if age is None else max(0.0, float(age))


def changed_since(conn: Connection, org_id: str, since: float, limit: int = 500) -> list[Job]:
    """Jobs of ``org_id`` updated after ``since`` (for progress streams), oldest change first;
    reports are not read (a reconnecting stream's backlog would decode up to ``limit``)."""
    stmt = (
        sa.select(*LISTED, sa.null().label("report"))
        .where(jobs.c.org_id == org_id, jobs.c.updated_at > since)
        .order_by(jobs.c.updated_at)
        .limit(limit)
    )
    return [Job.from_row(r) for r in conn.execute(stmt).mappings()]


def database_now(conn: Connection) -> float:
    """The database clock, for callers that need a consistent 'since' value."""
    return float(conn.execute(sa.select(db_now())).scalar_one())
