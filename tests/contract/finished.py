"""Part of the USER contract (``TestUserContract`` inherits it): the finished-jobs feed that
webhooks and the Sheets export follow from their own cursors."""

from __future__ import annotations

from kickflow.jobs import Job, JobState
from tests.contract.harness import ContractStore


def _finish(store: ContractStore, name: str, state: JobState, org: str | None = None) -> Job:
    """A job that ran once and ended in ``state``."""
    job = store.add(name, org=org)
    lease = store.claim_one().lease
    if state is JobState.COMPLETED:
        return store.jobs.complete(lease, "passed", {"n": 1})
    if state is JobState.FAILED:
        return store.jobs.fail(lease, "not_media", "not media", permanent=True)
    store.jobs.cancel(job.org_id, job.id)
    return store.jobs.acknowledge_cancel(lease)


def _cursor(job: Job) -> tuple[float, str]:
    assert job.finished_at is not None
    return (job.finished_at, job.id)


class FinishedJobsContract:
    def test_terminal_jobs_of_one_organisation_in_finish_order(self, store: ContractStore) -> None:
        done = _finish(store, "a.mov", JobState.COMPLETED)
        failed = _finish(store, "b.mov", JobState.FAILED)
        cancelled = _finish(store, "c.mov", JobState.CANCELLED)
        other = store.jobs.ensure_org("other")
        _finish(store, "theirs.mov", JobState.COMPLETED, org=other)
        store.add("waiting.mov")
        feed = store.jobs.finished_jobs_after(store.org, None)
        assert [j.id for j in feed] == [done.id, failed.id, cancelled.id]
        assert [j.state for j in feed] == [JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]
        assert feed[0].report == {"n": 1} and feed[0].verdict == "passed"
        assert [j.file_name for j in store.jobs.finished_jobs_after(other, None)] == ["theirs.mov"]

    def test_strictly_after_the_cursor_with_the_id_breaking_ties(
        self, store: ContractStore
    ) -> None:
        first = _finish(store, "a.mov", JobState.COMPLETED)
        second = _finish(store, "b.mov", JobState.FAILED)
        feed = store.jobs.finished_jobs_after
        assert [j.id for j in feed(store.org, _cursor(first))] == [second.id]
        assert feed(store.org, _cursor(second)) == []
        assert first.finished_at is not None
        same_time_lower_id = (first.finished_at, "")
        assert [j.id for j in feed(store.org, same_time_lower_id)] == [first.id, second.id]
        assert [j.id for j in feed(store.org, None, limit=1)] == [first.id]

    def test_without_reports_when_asked(self, store: ContractStore) -> None:
        _finish(store, "a.mov", JobState.COMPLETED)
        (job,) = store.jobs.finished_jobs_after(store.org, None, with_report=False)
        assert job.report is None and job.verdict == "passed"

    def test_a_job_finished_again_reappears_after_the_cursor(self, store: ContractStore) -> None:
        job = _finish(store, "a.mov", JobState.FAILED)
        cursor = _cursor(job)
        store.clock_moves_past(cursor[0])
        store.jobs.retry(store.org, job.id)
        assert store.jobs.finished_jobs_after(store.org, cursor) == [], "queued again: not finished"
        store.make_due(job.id)
        again = store.jobs.complete(store.claim_one().lease, "passed", {"n": 2})
        (seen,) = store.jobs.finished_jobs_after(store.org, cursor)
        assert seen.id == job.id and seen.state is JobState.COMPLETED
        assert _cursor(again) > cursor
