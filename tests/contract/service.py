"""Part of the USER contract (``TestUserContract`` inherits it): what the API routes, health
checks and ``/metrics`` ask beyond submit and control — reads by id, active ids, cheap counts
over every organisation, the metrics history, the registry by host, ``ping`` and
``delete_job``."""

from __future__ import annotations

import pytest

from kickflow.errors import JobNotFound, LeaseLost
from kickflow.jobs import JobState
from tests.contract.harness import ContractStore

R, X = JobState.RUNNING, JobState.CANCELLED


class ServiceContract:
    # --- reads ------------------------------------------------------------------------------

    def test_jobs_by_ids_in_the_order_asked_scoped_to_the_organisation(
        self, store: ContractStore
    ) -> None:
        a, b, c = store.add("a"), store.add("b"), store.add("c")
        elsewhere = store.add("x", org=store.jobs.ensure_org("other"))
        asked = [c.id, "no-such-job", a.id, c.id, elsewhere.id]
        assert [j.id for j in store.jobs.jobs_by_ids(store.org, asked)] == [c.id, a.id]
        assert store.jobs.jobs_by_ids(store.org, [b.id]) == [store.jobs.get(None, b.id)]
        everyone = store.jobs.jobs_by_ids(None, [elsewhere.id, a.id])
        assert [j.id for j in everyone] == [elsewhere.id, a.id]
        assert store.jobs.jobs_by_ids(store.org, []) == []

    def test_active_job_ids_are_queued_running_and_paused_oldest_first(
        self, store: ContractStore
    ) -> None:
        running, queued, paused, done = (store.add(n) for n in ("r", "q", "p", "d"))
        assert store.claim_one().job.id == running.id
        store.jobs.pause(store.org, paused.id)
        store.jobs.cancel(store.org, done.id)
        elsewhere = store.add("x", org=store.jobs.ensure_org("other"))
        assert store.jobs.active_job_ids(store.org) == [running.id, queued.id, paused.id]
        assert store.jobs.active_job_ids(None) == [running.id, queued.id, paused.id, elsewhere.id]
        assert store.jobs.active_job_ids(store.jobs.ensure_org("idle")) == []

    def test_state_counts_and_stuck_count_cover_every_organisation(
        self, store: ContractStore
    ) -> None:
        other = store.jobs.ensure_org("other")
        for org in (store.org, other):
            store.jobs.set_org_cap(org, 0)
        store.add("a")
        store.add("b", org=other)
        store.add("c", org=other)
        store.add("d")
        leases = [c.lease for c in store.worker.claim("w1", limit=2)]
        wanted = ("queued", "running", "failed")
        assert store.jobs.state_counts(wanted) == {"queued": 2, "running": 2, "failed": 0}
        assert list(store.jobs.state_counts(["paused", "queued"])) == ["paused", "queued"]
        assert store.jobs.state_counts([]) == {}
        with pytest.raises(ValueError):
            store.jobs.state_counts(["exploded"])
        assert store.jobs.stuck_count() == 0
        store.expire(leases[0])
        store.stall(leases[1])
        assert store.jobs.stuck_count() == 2

    def test_job_history_counts_outcomes_recoveries_kills_and_fenced_writes(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        store.add("ok")
        done = jobs.complete(store.claim_one().lease, "passed", {})
        retried = store.add("killed")
        jobs.fail(store.claim_one().lease, "ffmpeg_timeout", "wall limit", permanent=False)
        store.make_due(retried.id)
        jobs.fail(store.claim_one().lease, "not_media", "not media", permanent=True)
        store.add("lost")
        lost = store.claim_one().lease
        store.expire(lost)
        assert jobs.reap().total == 1
        assert not jobs.heartbeat(lost, 10.0, "analyzing").lease_held  # a fenced write
        cancelled = store.add("never", org=jobs.ensure_org("other"))
        jobs.cancel(None, cancelled.id)
        history = jobs.job_history((1.0, 3600.0), (1.0, 2.0, 3.0))
        assert history.finished_by_state == {"completed": 1, "failed": 1, "cancelled": 1}
        assert history.recoveries_by_reason == {"lease_expired": 1}
        assert history.ffmpeg_kills_by_reason == {"ffmpeg_timeout": 1}
        assert history.fenced_writes == 1
        assert done.started_at is not None and done.finished_at is not None
        duration = history.job_duration
        assert (duration.count, list(duration.cumulative)) == (1, [1, 1])
        assert duration.total == pytest.approx(done.finished_at - done.started_at, abs=0.01)
        attempts = history.attempts  # the completed job took 1 attempt, the failed one 2
        assert (attempts.count, list(attempts.cumulative), attempts.total) == (2, [1, 2, 2], 3.0)

    def test_registered_workers_of_a_host_live_or_not(self, store: ContractStore) -> None:
        store.jobs.register_worker("w-1", "host-a", 11, 1)
        store.jobs.register_worker("w-2", "host-a", 12, 2)
        store.jobs.register_worker("w-3", "host-b", 13, 1)
        store.jobs.worker_heartbeat("w-1", "stopped")
        assert store.jobs.registered_workers("host-a") == {"w-1": 11, "w-2": 12}
        assert store.jobs.registered_workers("nowhere") == {}

    def test_ping_names_the_store(self, store: ContractStore) -> None:
        name = store.jobs.ping()
        assert isinstance(name, str) and name.isidentifier()

    # --- delete -----------------------------------------------------------------------------

    def test_deleting_a_waiting_job_cancels_it_and_drops_its_history(
        self, store: ContractStore
    ) -> None:
        queued, paused = store.add("q"), store.add("p")
        store.jobs.pause(store.org, paused.id)
        for job in (queued, paused):
            last = store.jobs.delete_job(store.org, job.id)
            assert (last.id, last.state, last.error_code) == (job.id, X, "cancelled")
            assert last.error_message == "cancelled: job deleted"
            with pytest.raises(JobNotFound):
                store.jobs.get(None, job.id)
            assert store.jobs.events(job.id) == []
            with pytest.raises(JobNotFound):
                store.jobs.delete_job(store.org, job.id)
        assert store.jobs.list_jobs(store.org).jobs == []

    def test_deleting_a_running_job_fences_its_worker_off(self, store: ContractStore) -> None:
        job = store.add()
        lease = store.claim_one().lease
        last = store.jobs.delete_job(None, job.id)
        assert last.state is R and last.lease_token == lease.token
        assert not store.jobs.heartbeat(lease, 50.0, "analyzing").lease_held
        with pytest.raises(LeaseLost):
            store.jobs.complete(lease, "passed", {})
        assert store.jobs.events(job.id) == [], "a fenced write to a deleted job leaves nothing"
        assert store.jobs.job_history((1.0,), (1.0,)).fenced_writes == 0

    def test_another_organisations_job_cannot_be_deleted(self, store: ContractStore) -> None:
        job = store.add()
        finished = store.jobs.complete(store.claim_one().lease, "passed", {"n": 1})
        with pytest.raises(JobNotFound):
            store.jobs.delete_job(store.jobs.ensure_org("other"), job.id)
        assert store.state(job.id) is JobState.COMPLETED
        last = store.jobs.delete_job(store.org, job.id)
        assert last == finished, "a finished job is deleted as it was"
