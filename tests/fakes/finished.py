"""The finished-jobs feed in the fake store, with the rules of :mod:`kickflow.jobs.finished`
(terminal states only, one organisation, ordered by (finished_at, id), strictly after)."""

from __future__ import annotations

import dataclasses

from kickflow.jobs import Job
from kickflow.jobs.finished import MAX_LIMIT
from kickflow.jobs.states import TERMINAL
from tests.fakes.base import FakeStoreBase, copied


def _key(job: Job) -> tuple[float, str]:
    assert job.finished_at is not None
    return (job.finished_at, job.id)


class FakeFinishedJobs(FakeStoreBase):
    """:meth:`finished_jobs_after` (part of :class:`~tests.fakes.FakeJobStore`)."""

    def finished_jobs_after(
        self,
        org_id: str,
        after: tuple[float, str] | None,
        limit: int = 100,
        *,
        with_report: bool = True,
    ) -> list[Job]:
        with self._tx("finished_jobs_after", org_id, after, limit):
            found = [
                j
                for j in self._scoped(org_id)
                if j.state in TERMINAL
                and j.finished_at is not None
                and (after is None or _key(j) > after)
            ]
            found.sort(key=_key)
            page = found[: max(1, min(limit, MAX_LIMIT))]
            return [copied(j) if with_report else dataclasses.replace(j, report=None) for j in page]
