"""The USER contract: what a full job store does beyond the worker side — organisations, the
global pause, submit (idempotency keys, queue limits), reads, control, bulk operations,
stuck jobs and the reaper; with what it inherits, accounts and tokens
(:mod:`tests.contract.accounts`) and the service's reads and ``delete_job``
(:mod:`tests.contract.service`). Everything goes through ``store.jobs``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kickflow.errors import (
    IllegalTransition,
    JobError,
    JobNotFound,
    KickflowError,
    OrganisationExists,
    QueueLimitReached,
    RequestInvalid,
)
from kickflow.jobs import DEFAULT_PROFILE, Job, JobState
from tests.contract.accounts import AccountsContract
from tests.contract.finished import FinishedJobsContract
from tests.contract.google import GoogleConnectionsContract
from tests.contract.harness import ContractStore
from tests.contract.inputs import JobInputsContract
from tests.contract.listing import ListingContract
from tests.contract.people import PeopleContract
from tests.contract.profiles import OrgProfilesContract
from tests.contract.service import ServiceContract
from tests.contract.sheet_exports import SheetExportsContract
from tests.contract.usage import UsageContract
from tests.contract.webhooks import WebhooksContract
from tests.contract.worker import backoff_bounds

Q, R, C, F, X, P = (
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.PAUSED,
)


def finished(store: ContractStore, name: str, state: JobState) -> Job:
    """A job that ran once and ended in ``state`` (completed, failed or cancelled)."""
    job = store.add(name)
    lease = store.claim_one().lease
    if state is C:
        return store.jobs.complete(lease, "passed", {"n": 1})
    if state is F:
        return store.jobs.fail(lease, "not_media", "not media", permanent=True)
    store.jobs.cancel(store.org, job.id)
    return store.jobs.acknowledge_cancel(lease)


class TestUserContract(
    AccountsContract,
    ServiceContract,
    OrgProfilesContract,
    ListingContract,
    PeopleContract,
    JobInputsContract,
    UsageContract,
    FinishedJobsContract,
    WebhooksContract,
    GoogleConnectionsContract,
    SheetExportsContract,
):
    # --- organisations and the global pause -------------------------------------------------

    def test_organisations(self, store: ContractStore) -> None:
        jobs = store.jobs
        assert jobs.ensure_org("acme") == jobs.ensure_org("acme") == jobs.org_id_by_name("acme")
        assert jobs.org_id_by_name("nobody") is None
        other = jobs.create_org("other", max_running=2)
        assert jobs.org_id_by_name("other") == other
        with pytest.raises(OrganisationExists):
            jobs.create_org("other")
        with pytest.raises(RequestInvalid):
            jobs.create_org("   ")
        jobs.set_org_cap(other, None)  # back to the default: no error, nothing to read here

    def test_the_global_pause_flag(self, store: ContractStore) -> None:
        assert not store.jobs.queue_paused()
        store.jobs.pause_queue()
        assert store.jobs.queue_paused()
        store.jobs.resume_queue()
        assert not store.jobs.queue_paused()

    def test_pruning_forgets_silent_workers(self, store: ContractStore) -> None:
        # Here, not in the worker group: a remote worker's store leaves pruning to the service.
        store.jobs.register_worker("w-1", "host", 1, 1)
        assert store.jobs.prune_workers() == 0, "silent for less than a day: kept"
        store.wait_for("w-1 to fall silent", lambda: store.jobs.prune_workers(0.0) == 1)
        assert store.jobs.live_workers() == []

    # --- submit -----------------------------------------------------------------------------

    def test_enqueue_queues_a_job_with_the_defaults(self, store: ContractStore) -> None:
        before = store.jobs.now()
        job = store.jobs.enqueue(store.org, "path", "/media/a.mov", file_name="a.mov")
        after = store.jobs.now()
        assert job.state is Q and job.attempt == 0 and job.org_id == store.org
        assert job.max_attempts == store.settings.max_attempts and job.profile == DEFAULT_PROFILE
        assert (job.priority, job.project, job.file_size, job.idempotency_key) == (
            0,
            None,
            None,
            None,
        )
        assert (job.progress, job.phase, job.verdict, job.report, job.error_code) == (
            0.0, None, None, None, None,
        )  # fmt: skip
        assert job.lease_token is None and job.worker_id is None and job.started_at is None
        assert before <= job.created_at <= after
        assert job.run_at == job.created_at == job.updated_at
        assert store.jobs.get(store.org, job.id) == job
        [event] = store.jobs.events(job.id)
        assert (event.kind, event.from_state, event.to_state) == ("enqueued", None, "queued")
        assert (event.attempt, event.worker_id, event.code, event.org_id) == (
            0,
            None,
            None,
            store.org,
        )
        later = store.add(
            "b.mov", profile="web", project="p", priority=3, file_size=10, max_attempts=5,
            delay_seconds=60,
        )  # fmt: skip
        assert (later.profile, later.project, later.priority) == ("web", "p", 3)
        assert (later.file_size, later.max_attempts) == (10, 5)
        assert later.run_at == pytest.approx(later.created_at + 60, abs=0.01)

    def test_an_idempotency_key_returns_the_first_job(self, store: ContractStore) -> None:
        first = store.add("a", idempotency_key="k")
        assert store.add("b", idempotency_key="k").id == first.id
        finished_job = store.jobs.complete(store.claim_one().lease, "passed", {})
        assert finished_job.id == first.id
        assert store.add("c", idempotency_key="k").id == first.id, "even once it has finished"
        assert len(store.jobs.list_jobs(store.org).jobs) == 1
        elsewhere = store.add("a", org=store.jobs.ensure_org("other"), idempotency_key="k")
        assert elsewhere.id != first.id, "keys are per organisation"

    def test_enqueue_many_queues_a_batch_in_order(self, store: ContractStore) -> None:
        new = store.jobs.new_job
        existing = store.add("e", idempotency_key="old")
        items = [new(store.org, "upload", f"u/{i}", file_name=f"{i}.mov") for i in range(3)]
        keyed = new(store.org, "upload", "u/k", file_name="k.mov", idempotency_key="k")
        again = new(store.org, "upload", "u/x", file_name="x.mov", idempotency_key="old")
        got = store.jobs.enqueue_many([items[0], keyed, items[1], keyed, again, items[2]])
        assert [j.file_name for j in got] == ["0.mov", "k.mov", "1.mov", "k.mov", "e", "2.mov"]
        assert got[1].id == got[3].id and got[4].id == existing.id
        assert len({j.id for j in got}) == 5
        assert all(j.state is Q and j.max_attempts == store.settings.max_attempts for j in got)
        assert all(store.jobs.events(j.id)[0].kind == "enqueued" for j in got)
        assert store.jobs.enqueue_many([]) == []

    def test_the_queue_limit_refuses_jobs_and_whole_batches(self, store: ContractStore) -> None:
        small = store.with_settings(org_max_queued=2)
        jobs, org = small.jobs, small.org
        other = jobs.ensure_org("other")
        first = small.add("a", idempotency_key="k")
        small.add("b")
        with pytest.raises(QueueLimitReached, match="limit is 2"):
            small.add("c")
        with pytest.raises(QueueLimitReached):
            jobs.ensure_queue_room(org)
        jobs.ensure_queue_room(other, 2)
        assert small.add("a again", idempotency_key="k").id == first.id, "known keys need no room"
        small.claim_one()  # running jobs do not count
        jobs.ensure_queue_room(org)
        batch = [jobs.new_job(org, "path", f"/m/{i}", file_name=f"{i}") for i in range(2)]
        with pytest.raises(QueueLimitReached):
            jobs.enqueue_many(batch)
        assert jobs.counts(org)["queued"] == 1, "a refused batch queues nothing"
        assert len(jobs.enqueue_many(batch[:1])) == 1
        with pytest.raises(QueueLimitReached):
            jobs.enqueue_many([jobs.new_job(other, "path", "/m/o", file_name="o")] * 3)

    def test_enqueue_into_an_unknown_organisation_is_refused(self, store: ContractStore) -> None:
        with pytest.raises(KickflowError):
            store.add("a", org="00000000-0000-0000-0000-000000000000")

    # --- reads ------------------------------------------------------------------------------

    def test_another_organisation_sees_nothing(self, store: ContractStore) -> None:
        other = store.jobs.ensure_org("other")
        job = store.add()
        since = store.jobs.now() - 60
        refused: tuple[Callable[[], Job], ...] = (
            lambda: store.jobs.get(other, job.id),
            lambda: store.jobs.cancel(other, job.id),
            lambda: store.jobs.pause(other, job.id),
            lambda: store.jobs.retry(other, job.id),
        )
        for attempt in refused:
            with pytest.raises(JobNotFound):
                attempt()
        assert store.jobs.list_jobs(other).jobs == []
        assert store.jobs.events(job.id, other) == []
        assert store.jobs.counts(other)["queued"] == 0
        assert store.jobs.changed_since(other, since) == []
        assert store.jobs.oldest_queued_age(other) is None
        assert store.jobs.cancel_many(other, [job.id]).refused.keys() == {job.id}
        assert store.jobs.get(None, job.id).id == job.id, "None means every organisation"
        with pytest.raises(JobNotFound):
            store.jobs.get(store.org, "no-such-job")

    def test_list_jobs_pages_newest_first_and_filters(self, store: ContractStore) -> None:
        added = [store.add(f"f{i}", project="p" if i % 2 else None) for i in range(5)]
        page = store.jobs.list_jobs(store.org, limit=2)
        seen = list(page.jobs)
        while page.next_cursor:
            assert len(page.jobs) == 2
            page = store.jobs.list_jobs(store.org, limit=2, cursor=page.next_cursor)
            seen += page.jobs
        newest_first = sorted(added, key=lambda j: (j.created_at, j.id), reverse=True)
        assert [j.id for j in seen] == [j.id for j in newest_first]
        assert {j.id for j in store.jobs.list_jobs(store.org, project="p").jobs} == {
            added[1].id, added[3].id,
        }  # fmt: skip
        done = store.jobs.complete(store.claim_one().lease, "needs_review", {})
        assert [j.id for j in store.jobs.list_jobs(store.org, state="completed").jobs] == [done.id]
        assert [j.id for j in store.jobs.list_jobs(store.org, verdict="needs_review").jobs] == [
            done.id
        ]
        assert len(store.jobs.list_jobs(store.org, state="queued").jobs) == 4
        assert store.jobs.list_jobs(store.org, limit=5).next_cursor is None
        with pytest.raises(JobError, match="invalid cursor"):
            store.jobs.list_jobs(store.org, cursor="not a cursor")

    def test_history_and_recent_errors(self, store: ContractStore) -> None:
        job = store.add(max_attempts=2)
        store.jobs.fail(store.claim_one().lease, "ffmpeg_stalled", "stalled", permanent=False)
        store.make_due(job.id)
        store.jobs.fail(store.claim_one().lease, "ffmpeg_stalled", "stalled", permanent=False)
        other = store.jobs.ensure_org("other")
        elsewhere = store.add("x", org=other)
        store.jobs.fail(store.claim_one().lease, "not_media", "not media", permanent=True)
        history = store.jobs.events(job.id)
        assert [e.kind for e in history] == [
            "enqueued", "claimed", "retry_scheduled", "claimed", "failed",
        ]  # fmt: skip
        assert [e.id for e in history] == sorted(e.id for e in history)
        assert all(history[i].at <= history[i + 1].at for i in range(len(history) - 1))
        errors = store.jobs.recent_errors(store.org)
        assert [(e.kind, e.job_id) for e in errors] == [
            ("failed", job.id), ("retry_scheduled", job.id),
        ]  # fmt: skip
        everyone = store.jobs.recent_errors(None, limit=2)
        assert [(e.kind, e.job_id) for e in everyone] == [
            ("failed", elsewhere.id), ("failed", job.id),
        ]  # fmt: skip

    def test_counts_oldest_queued_age_and_changes(self, store: ContractStore) -> None:
        assert store.jobs.counts(store.org) == {
            "queued": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0,
            "paused": 0, "stuck": 0,
        }  # fmt: skip
        assert store.jobs.oldest_queued_age(store.org) is None
        a, b, c = store.add("a"), store.add("b"), store.add("c")
        lease = store.claim_one().lease
        store.jobs.pause(store.org, c.id)
        counts = store.jobs.counts(store.org)
        assert (counts["queued"], counts["running"], counts["paused"], counts["stuck"]) == (
            1,
            1,
            1,
            0,
        )
        age = store.jobs.oldest_queued_age(store.org)
        assert age is not None and 0.0 <= age <= store.jobs.now() - b.created_at + 0.01
        since = store.jobs.now()
        store.clock_moves_past(since)
        store.jobs.heartbeat(lease, 50.0, "analyzing")
        assert [j.id for j in store.jobs.changed_since(store.org, since)] == [a.id]
        store.jobs.cancel(store.org, b.id)
        assert [j.id for j in store.jobs.changed_since(store.org, since)] == [a.id, b.id]
        assert store.jobs.changed_since(store.org, since, limit=1)[0].id == a.id
        since = store.jobs.now()
        store.clock_moves_past(since)
        store.worker.complete(lease, "passed", {"summary": "kept"})
        changed = store.jobs.changed_since(store.org, since)
        assert [(j.id, j.state, j.report) for j in changed] == [(a.id, JobState.COMPLETED, None)]
        assert store.jobs.get(store.org, a.id).report == {"summary": "kept"}

    # --- control ----------------------------------------------------------------------------

    def test_control_of_a_waiting_job_and_illegal_changes(self, store: ContractStore) -> None:
        jobs, org = store.jobs, store.org
        job = store.add()
        paused = jobs.pause(org, job.id)
        assert paused.state is P and store.worker.claim("w1") == []
        assert jobs.events(job.id)[-1].kind == "paused"
        with pytest.raises(IllegalTransition, match="paused"):
            jobs.retry(org, job.id)
        with pytest.raises(IllegalTransition):
            jobs.pause(org, job.id)
        assert jobs.resume(org, job.id).state is Q
        cancelled = jobs.cancel(org, job.id, "not needed")
        assert cancelled.state is X and cancelled.finished_at
        assert (cancelled.error_code, cancelled.error_message) == ("cancelled", "not needed")
        last = jobs.events(job.id)[-1]
        assert (last.kind, last.from_state, last.code) == ("cancelled", "queued", "cancelled")
        for illegal in (jobs.cancel, jobs.pause, jobs.resume):
            with pytest.raises(IllegalTransition, match="cancelled"):
                illegal(org, job.id)
        assert jobs.retry(org, job.id).state is Q
        assert jobs.cancel(org, jobs.pause(org, job.id).id).state is X, "paused jobs cancel too"

    def test_control_of_a_running_job_is_a_request(self, store: ContractStore) -> None:
        jobs, org = store.jobs, store.org
        job = store.add()
        store.claim_one()
        asked = jobs.pause(org, job.id)
        assert asked.state is R and asked.pause_requested
        last = jobs.events(job.id)[-1]
        assert (last.kind, last.from_state, last.to_state) == (
            "pause_requested",
            "running",
            "running",
        )
        withdrawn = jobs.resume(org, job.id)
        assert withdrawn.state is R and not withdrawn.pause_requested
        assert jobs.events(job.id)[-1].message == "pause request withdrawn"
        with pytest.raises(IllegalTransition):
            jobs.resume(org, job.id)
        with pytest.raises(IllegalTransition, match="running"):
            jobs.retry(org, job.id)
        cancel = jobs.cancel(org, job.id)
        assert cancel.state is R and cancel.cancel_requested
        assert jobs.events(job.id)[-1].kind == "cancel_requested"

    def test_retry_requeues_a_finished_job_with_attempts_reset(self, store: ContractStore) -> None:
        for state in (C, F, X):
            job = finished(store, f"{state.value}.mov", state)
            again = store.jobs.requeue(store.org, job.id, "once more")
            assert again.state is Q and again.attempt == 0 and again.lease_losses == 0
            assert (again.verdict, again.report, again.error_code, again.error_message) == (
                None, None, None, None,
            )  # fmt: skip
            assert again.started_at is None and again.finished_at is None and again.progress == 0
            last = store.jobs.events(job.id)[-1]
            assert (last.kind, last.from_state, last.message) == (
                "requeued",
                state.value,
                "once more",
            )
            assert store.claim_one().lease.attempt == 1

    def test_bulk_operations_report_refusals_per_job(self, store: ContractStore) -> None:
        jobs, org = store.jobs, store.org
        a, b = store.add("a"), store.add("b")
        result = jobs.pause_many(org, [a.id, a.id, "missing"])
        assert [j.id for j in result.done] == [a.id]
        assert set(result.refused) == {"missing"}
        result = jobs.pause_many(org, [a.id, b.id])
        assert [j.id for j in result.done] == [b.id] and "paused" in result.refused[a.id]
        assert {j.id for j in jobs.resume_many(org, [a.id, b.id]).done} == {a.id, b.id}
        assert {j.id for j in jobs.cancel_many(org, [a.id, b.id]).done} == {a.id, b.id}
        result = jobs.retry_many(org, [b.id, a.id])
        assert [j.id for j in result.done] == [b.id, a.id] and result.refused == {}

    def test_retry_failed_redrives_the_dead_letter_list(self, store: ContractStore) -> None:
        failed = [finished(store, f"{i}.mov", F) for i in range(2)]
        done = finished(store, "done.mov", C)
        result = store.jobs.retry_failed(store.org)
        assert {j.id for j in result.done} == {j.id for j in failed} and result.refused == {}
        assert store.state(done.id) is C
        assert store.jobs.retry_failed(store.org).done == []

    # --- stuck jobs and the reaper ----------------------------------------------------------

    def test_stuck_means_an_expired_lease_or_no_progress(self, store: ContractStore) -> None:
        store.jobs.set_org_cap(store.org, 0)
        for name in ("expired", "stalled", "healthy"):
            store.add(name)
        claimed = {c.job.file_name: c.lease for c in store.worker.claim("w1", limit=3)}
        store.expire(claimed["expired"])
        store.stall(claimed["stalled"])
        stuck = store.jobs.stuck_jobs(store.org)
        assert {j.id for j in stuck} == {claimed["expired"].job_id, claimed["stalled"].job_id}
        assert store.jobs.counts(store.org)["stuck"] == 2
        assert store.jobs.stuck_jobs(store.jobs.ensure_org("other")) == []
        assert len(store.jobs.stuck_jobs(store.org, limit=1)) == 1

    def test_the_reaper_requeues_with_backoff_or_fails_when_attempts_are_used_up(
        self, store: ContractStore
    ) -> None:
        store.jobs.set_org_cap(store.org, 0)
        retried, last_try = store.add("retried", max_attempts=2), store.add("last", max_attempts=1)
        leases = {c.job.id: c.lease for c in store.worker.claim("w1", limit=2)}
        for lease in leases.values():
            store.jobs.heartbeat(lease, 42.0, "analyzing")
            store.expire(lease)
        before = store.jobs.now()
        result = store.jobs.reap()
        after = store.jobs.now()
        assert (result.requeued, result.failed, result.total) == ([retried.id], [last_try.id], 2)
        again = store.jobs.get(store.org, retried.id)
        low, high = backoff_bounds(store, 1)
        assert again.state is Q and again.attempt == 1 and again.lease_losses == 1
        assert before + low - 0.01 <= again.run_at <= after + high + 0.01
        assert (again.error_code, again.progress, again.phase, again.lease_token) == (
            "lease_expired", 0.0, None, None,
        )  # fmt: skip
        assert again.error_message and again.error_message.startswith(
            "its worker stopped heartbeating"
        )
        assert (
            "at 42% (analyzing): lease expired — re-queued (attempt 1 of 2 used)"
            in again.error_message
        )
        failed = store.jobs.get(store.org, last_try.id)
        assert failed.state is F and failed.error_code == "lease_expired" and failed.finished_at
        assert failed.error_message and failed.error_message.endswith("failed after 1 attempts")
        event = store.jobs.events(retried.id)[-1]
        assert (event.kind, event.code, event.from_state, event.to_state) == (
            "reaped", "lease_expired", "running", "queued",
        )  # fmt: skip
        assert (event.attempt, event.worker_id) == (1, "w1")
        assert store.jobs.reap().total == 0
        status = store.jobs.reaper_status()
        assert status["last_run"] is not None and status["last_recovered"] == 0

    def test_the_reaper_honours_cancel_and_pause_requests_and_spares_healthy_jobs(
        self, store: ContractStore
    ) -> None:
        store.jobs.set_org_cap(store.org, 0)
        cancel, pause = store.add("cancel"), store.add("pause")
        stalled, healthy = store.add("stalled"), store.add("healthy")
        leases = {c.job.id: c.lease for c in store.worker.claim("w1", limit=4)}
        store.jobs.cancel(store.org, cancel.id)
        store.jobs.pause(store.org, pause.id)
        for job_id in (cancel.id, pause.id):
            store.expire(leases[job_id])
        store.stall(leases[stalled.id])
        store.jobs.heartbeat(leases[healthy.id], 70.0, "analyzing")
        result = store.jobs.reap()
        assert (result.cancelled, result.paused, result.requeued) == (
            [cancel.id],
            [pause.id],
            [stalled.id],
        )
        assert store.jobs.get(None, cancel.id).error_code == "cancelled"
        parked = store.jobs.get(None, pause.id)
        assert parked.state is P and parked.attempt == 0 and not parked.pause_requested
        still = store.jobs.get(None, stalled.id)
        assert still.error_code == "no_progress" and still.error_message
        assert still.error_message.startswith("no progress for ")
        assert store.state(healthy.id) is R
        assert store.jobs.reaper_status()["last_recovered"] == 3

    def test_operators_retry_or_cancel_stuck_jobs(self, store: ContractStore) -> None:
        store.jobs.set_org_cap(store.org, 0)
        a, b, c = store.add("a"), store.add("b"), store.add("c")
        leases = {cl.job.id: cl.lease for cl in store.worker.claim("w1", limit=3)}
        store.expire(leases[a.id])
        result = store.jobs.retry_stuck(store.org)
        assert [j.id for j in result.done] == [a.id] and result.refused == {}
        again = store.jobs.get(None, a.id)
        assert again.state is Q and again.run_at <= store.jobs.now() and again.attempt == 1
        assert store.jobs.events(a.id)[-1].message == "stuck: re-queued by an operator"
        assert not store.jobs.heartbeat(leases[a.id], 1.0, "x").lease_held, "its worker is fenced"
        store.stall(leases[b.id])
        result = store.jobs.cancel_stuck(store.org)
        assert [j.id for j in result.done] == [b.id]
        ended = store.jobs.get(None, b.id)
        assert ended.state is X and ended.error_code == "cancelled_stuck"
        with pytest.raises(RequestInvalid, match="not stuck"):
            store.jobs.retry_stuck_job(store.org, c.id)
        with pytest.raises(RequestInvalid, match="not stuck"):
            store.jobs.cancel_stuck_job(store.org, b.id)
        with pytest.raises(JobNotFound):
            store.jobs.retry_stuck_job(store.jobs.ensure_org("other"), c.id)

    def test_single_stuck_job_control_refuses_a_job_that_is_not_stuck(
        self, store: ContractStore
    ) -> None:
        jobs, org = store.jobs, store.org
        queued, healthy = store.add("queued"), store.add("healthy")
        assert store.claim_one().job.id == queued.id
        lease = store.claim_one().lease
        jobs.heartbeat(lease, 10.0, "analyzing")
        for control in (jobs.retry_stuck_job, jobs.cancel_stuck_job):
            with pytest.raises(RequestInvalid, match="running and making progress: not stuck"):
                control(org, healthy.id)
        assert jobs.heartbeat(lease, 20.0, "analyzing").lease_held, "left alone"
        waiting = store.add("waiting")
        for control in (jobs.retry_stuck_job, jobs.cancel_stuck_job):
            with pytest.raises(RequestInvalid, match="is queued, not stuck"):
                control(org, waiting.id)
            with pytest.raises(JobNotFound):
                control(org, "no-such-job")
        assert store.state(waiting.id) is Q
        store.stall(lease)
        with pytest.raises(JobNotFound):
            jobs.cancel_stuck_job(jobs.ensure_org("other"), healthy.id)
        ended = jobs.cancel_stuck_job(None, healthy.id)
        assert ended.state is X and ended.error_message == "stuck: cancelled by an operator"
