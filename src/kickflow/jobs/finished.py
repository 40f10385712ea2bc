"""The finished-jobs feed: each organisation's jobs in a terminal state (completed, failed,
cancelled) in the order they finished, read from a cursor. What leaves the service on
completion (webhooks, the Sheets export) follows it, each consumer keeping its own cursor, so
a restart resumes where it stopped.

The cursor is ``(finished_at, id)`` of the last job a consumer handled: ``finished_at`` alone
is not unique (two jobs can finish in one clock tick), the id breaks the tie. A job that is
retried and finishes again moves to its new ``finished_at``, after the cursor: the feed shows
it again, and consumers decide whether that is a new event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.jobs.models import Job
from kickflow.jobs.queries import LISTED
from kickflow.jobs.schema import jobs
from kickflow.jobs.states import TERMINAL

T = TypeVar("T")
FINISHED_STATES = tuple(sorted(s.value for s in TERMINAL))
MAX_LIMIT = 1000


def _after(cursor: tuple[float, str] | None) -> sa.ColumnElement[bool]:
    if cursor is None:
        return sa.true()
    at, job_id = cursor
    return sa.or_(jobs.c.finished_at > at, sa.and_(jobs.c.finished_at == at, jobs.c.id > job_id))


def finished_after(
    conn: Connection,
    org_id: str,
    after: tuple[float, str] | None,
    limit: int,
    with_report: bool,
) -> list[Job]:
    """The organisation's finished jobs strictly after ``after``, by (finished_at, id)."""
    columns = [jobs] if with_report else [*LISTED, sa.null().label("report")]
    stmt = (
        sa.select(*columns)
        .where(
            jobs.c.org_id == org_id,
            jobs.c.state.in_(FINISHED_STATES),
            jobs.c.finished_at.is_not(None),
            _after(after),
        )
        .order_by(jobs.c.finished_at, jobs.c.id)
        .limit(max(1, min(limit, MAX_LIMIT)))
    )
    return [Job.from_row(r) for r in conn.execute(stmt).mappings()]


class _Transactions(Protocol):
    def _read(self, fn: Callable[[Connection], T]) -> T: ...


class FinishedJobsQueries:
    """The finished-jobs feed of :class:`~kickflow.jobs.store.SqlJobStore`."""

    def finished_jobs_after(
        self: _Transactions,
        org_id: str,
        after: tuple[float, str] | None,
        limit: int = 100,
        *,
        with_report: bool = True,
    ) -> list[Job]:
        """The organisation's jobs in a terminal state, ordered by (finished_at, id), strictly
        after the cursor ``after`` (None: from the first); at most ``limit`` (1-1000)."""
        return self._read(lambda c: finished_after(c, org_id, after, limit, with_report))
