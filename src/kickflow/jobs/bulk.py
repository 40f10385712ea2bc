"""The bulk forms of the per-job controls, shared by every store that has the per-job ones
(the SQL store and the test fake): one job at a time, a database error ends the whole call
(the next job would wait for the same database), any other refusal is recorded per job."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from kickflow.errors import DatabaseError, KickflowError
from kickflow.jobs.models import BulkResult, Job
from kickflow.jobs.queries import Page


class _Controls(Protocol):
    def retry(self, org_id: str | None, job_id: str, reason: str = ...) -> Job: ...
    def cancel(self, org_id: str | None, job_id: str, reason: str = ...) -> Job: ...
    def pause(self, org_id: str | None, job_id: str) -> Job: ...
    def resume(self, org_id: str | None, job_id: str) -> Job: ...
    def list_jobs(
        self, org_id: str | None, *, state: str | None = ..., limit: int = ...
    ) -> Page: ...


def each(ids: Iterable[str], one: Callable[[str], Job]) -> BulkResult:
    """``one`` for every distinct id, in order."""
    out = BulkResult()
    for job_id in dict.fromkeys(ids):
        try:
            out.done.append(one(job_id))
        except DatabaseError:
            raise
        except KickflowError as exc:
            out.refused[job_id] = exc.message
    return out


class BulkOperations:
    """``retry_many``/``cancel_many``/``pause_many``/``resume_many``/``retry_failed``."""

    def retry_many(self: _Controls, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        return each(job_ids, lambda j: self.retry(org_id, j))

    def cancel_many(self: _Controls, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        return each(job_ids, lambda j: self.cancel(org_id, j))

    def pause_many(self: _Controls, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        return each(job_ids, lambda j: self.pause(org_id, j))

    def resume_many(self: _Controls, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        return each(job_ids, lambda j: self.resume(org_id, j))

    def retry_failed(self: _Controls, org_id: str | None, limit: int = 1000) -> BulkResult:
        """Redrive the dead-letter list (failed jobs), up to ``limit``."""
        page = self.list_jobs(org_id, state="failed", limit=limit)
        return each([j.id for j in page.jobs], lambda j: self.retry(org_id, j))
