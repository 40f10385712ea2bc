"""The WORKER contract: what every :class:`~kickflow.jobs.WorkerPort` does (claim, heartbeat,
the fenced final writes, the registry). Only ``store.worker`` is under test here; jobs are set
up and inspected through ``store.jobs``, and reaper passes run there too (for an HTTP worker
the service runs its own reaper, so tests wait for states rather than count reaper results).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from kickflow.errors import LeaseLost
from kickflow.jobs import HeartbeatReply, Job, JobState, WorkerInfo
from tests.contract.harness import ContractStore

Q, R, C, F, X, P = (
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.PAUSED,
)


def backoff_bounds(store: ContractStore, attempt: int) -> tuple[float, float]:
    """The delay range :func:`kickflow.jobs.ops.backoff_seconds` allows (25 % jitter)."""
    s = store.settings
    delay = min(s.retry_max_seconds, s.retry_base_seconds * 2 ** max(0, attempt - 1))
    return delay, delay * 1.25


class TestWorkerContract:
    # --- claim ------------------------------------------------------------------------------

    def test_claim_takes_a_due_job_with_a_fresh_lease(self, store: ContractStore) -> None:
        job = store.add()
        before = store.jobs.now()
        claimed = store.claim_one("w1")
        after = store.jobs.now()
        got, lease = claimed.job, claimed.lease
        assert got.id == job.id and got.state is R and got.attempt == 1
        assert lease.job_id == job.id and lease.attempt == 1 and lease.worker_id == "w1"
        assert re.fullmatch(r"[0-9a-f]{32}", lease.token) and got.lease_token == lease.token
        assert got.worker_id == "w1" and got.phase == "initializing" and got.progress == 0.0
        assert got.started_at is not None and before <= got.started_at <= after
        assert got.heartbeat_at == pytest.approx(got.started_at)
        assert got.progress_at == pytest.approx(got.started_at)
        expected_expiry = got.started_at + store.settings.lease_seconds
        assert got.lease_expires_at == pytest.approx(expected_expiry, abs=0.01)
        assert store.jobs.get(store.org, job.id) == got
        last = store.jobs.events(job.id)[-1]
        assert (last.kind, last.from_state, last.to_state) == ("claimed", "queued", "running")
        assert (last.attempt, last.worker_id) == (1, "w1")
        assert last.message == f"attempt 1 of {job.max_attempts} claimed by w1"
        assert store.worker.claim("w2") == []

    def test_claim_honours_the_limit_and_never_hands_out_a_job_twice(
        self, store: ContractStore
    ) -> None:
        store.jobs.set_org_cap(store.org, 0)  # no cap
        ids = {store.add(f"{i}.mov").id for i in range(3)}
        first = store.worker.claim("w1", limit=2)
        second = store.worker.claim("w2", limit=2)
        assert len(first) == 2 and len(second) == 1
        assert store.ids(first) | store.ids(second) == ids
        assert store.worker.claim("w3", limit=5) == []

    def test_an_organisations_own_order_is_priority_then_age(self, store: ContractStore) -> None:
        store.jobs.set_org_cap(store.org, 0)
        low = store.add("low")
        high = store.add("high", priority=5)
        later = store.add("later", priority=9, delay_seconds=3600)
        low2 = store.add("low2")
        order = [store.claim_one().job.id for _ in range(3)]
        assert order == [high.id, low.id, low2.id]
        assert store.worker.claim("w1") == [], "a delayed job is not due"
        store.make_due(later.id)
        assert store.claim_one().job.id == later.id

    def test_the_organisation_with_fewest_running_jobs_goes_first(
        self, store: ContractStore
    ) -> None:
        a, b = store.org, store.jobs.create_org("b")
        for org in (a, b):
            store.jobs.set_org_cap(org, 0)
        a1, a2 = store.add("a1", priority=50), store.add("a2", priority=50)
        b1 = store.add("b1", org=b)
        assert store.claim_one().job.id == a1.id  # both idle and never served: oldest job
        assert store.claim_one().job.id == b1.id  # a runs one now: b first, priority or not
        assert store.claim_one().job.id == a2.id

    def test_the_organisation_served_least_recently_breaks_ties(self, store: ContractStore) -> None:
        b = store.jobs.create_org("b")
        a1, a2 = store.add("a1"), store.add("a2")  # a's jobs are all older than b's
        b1, b2 = store.add("b1", org=b), store.add("b2", org=b)
        order = []
        for _ in range(4):  # one at a time: both organisations idle at every claim
            claimed = store.claim_one()
            order.append(claimed.job.id)
            store.worker.complete(claimed.lease, "passed", {})
        assert order == [a1.id, b1.id, a2.id, b2.id], "by age alone: a1, a2, b1, b2"

    def test_a_batch_claim_is_spread_over_organisations(self, store: ContractStore) -> None:
        a, b = store.org, store.jobs.create_org("b")
        for org in (a, b):
            store.jobs.set_org_cap(org, 0)
        for i in range(3):
            store.add(f"a{i}", priority=10)
        for i in range(3):
            store.add(f"b{i}", org=b)
        got = store.worker.claim("w1", limit=4)
        assert sorted(c.job.org_id for c in got) == sorted([a, a, b, b])

    def test_an_organisations_running_cap_holds(self, store: ContractStore) -> None:
        capped = store.jobs.create_org("capped", max_running=1)
        store.jobs.set_org_cap(store.org, 0)
        c1, c2 = store.add("c1", org=capped), store.add("c2", org=capped)
        free = store.add("f1")
        got = store.worker.claim("w1", limit=3)
        assert store.ids(got) == {c1.id, free.id}
        assert store.worker.claim("w1") == []
        [running] = [c for c in got if c.job.id == c1.id]
        store.worker.complete(running.lease, "passed", {})
        assert store.claim_one().job.id == c2.id

    def test_the_default_cap_applies_to_organisations_without_their_own(
        self, store: ContractStore
    ) -> None:
        cap = store.settings.org_max_running
        count = cap + 1 if cap else 3
        for i in range(count):
            store.add(f"{i}.mov")
        got = store.worker.claim("w1", limit=count)
        assert len(got) == (cap or count)

    def test_a_global_pause_stops_claims_but_not_running_jobs(self, store: ContractStore) -> None:
        store.add("a")
        b = store.add("b")
        lease = store.claim_one().lease
        store.jobs.pause_queue()
        assert store.worker.claim("w1") == []
        assert store.worker.heartbeat(lease, 50.0, "analyzing").lease_held
        assert store.worker.complete(lease, "passed", {}).state is C
        store.jobs.resume_queue()
        assert store.claim_one().job.id == b.id

    # --- heartbeat --------------------------------------------------------------------------

    def test_a_heartbeat_extends_the_lease_and_stores_progress(self, store: ContractStore) -> None:
        job = store.add()
        lease = store.claim_one().lease
        assert store.worker.heartbeat(lease, 10.0, "downloading") == HeartbeatReply(True)
        beat = store.jobs.get(store.org, job.id)
        assert (beat.progress, beat.phase) == (10.0, "downloading")
        assert beat.heartbeat_at is not None and beat.progress_at == beat.heartbeat_at
        expected_expiry = beat.heartbeat_at + store.settings.lease_seconds
        assert beat.lease_expires_at == pytest.approx(expected_expiry, abs=0.01)
        store.clock_moves_past(beat.heartbeat_at)
        assert store.worker.heartbeat(lease, 10.0, "downloading").lease_held
        same = store.jobs.get(store.org, job.id)
        assert same.heartbeat_at is not None and same.heartbeat_at > beat.heartbeat_at
        assert same.lease_expires_at is not None and beat.lease_expires_at is not None
        assert same.lease_expires_at > beat.lease_expires_at
        assert same.progress_at == beat.progress_at, "progress did not move"
        store.clock_moves_past(same.heartbeat_at)
        store.worker.heartbeat(lease, 10.0, "analyzing")
        moved = store.jobs.get(store.org, job.id)
        assert moved.progress_at is not None and moved.progress_at > same.heartbeat_at

    def test_the_heartbeat_reply_carries_cancel_and_pause_requests(
        self, store: ContractStore
    ) -> None:
        job = store.add()
        lease = store.claim_one().lease
        store.jobs.pause(store.org, job.id)
        assert store.worker.heartbeat(lease, 20.0, "analyzing") == HeartbeatReply(True, False, True)
        store.jobs.resume(store.org, job.id)  # the request is withdrawn
        assert store.worker.heartbeat(lease, 21.0, "analyzing") == HeartbeatReply(True)
        store.jobs.cancel(store.org, job.id)
        assert store.worker.heartbeat(lease, 22.0, "analyzing") == HeartbeatReply(True, True, False)
        assert store.state(job.id) is R, "the worker stops it, not the request"

    # --- final writes -----------------------------------------------------------------------

    def test_complete_accepts_the_result_and_ends_the_attempt(self, store: ContractStore) -> None:
        job = store.add()
        lease = store.claim_one().lease
        report = {"verdict": "passed", "findings": [{"t": 1.5, "id": "x"}], "lufs": -23.0}
        done = store.worker.complete(lease, "passed", report)
        assert done.state is C and done.verdict == "passed" and done.attempt == 1
        assert (done.progress, done.phase, done.error_code) == (100.0, "done", None)
        assert done.lease_token is None and done.worker_id is None and done.finished_at
        assert store.jobs.get(store.org, job.id).report == report
        last = store.jobs.events(job.id)[-1]
        assert (last.kind, last.from_state, last.to_state) == ("completed", "running", "completed")
        assert (last.attempt, last.worker_id, last.message) == (1, "w1", "verdict passed")
        assert not store.worker.heartbeat(lease, 100.0, "done").lease_held
        with pytest.raises(LeaseLost):
            store.worker.fail(lease, "late", "too late", permanent=True)
        assert store.state(job.id) is C

    def test_complete_many_accepts_held_leases_and_fences_the_rest(
        self, store: ContractStore
    ) -> None:
        store.jobs.set_org_cap(store.org, 0)
        for i in range(3):
            store.add(f"{i}.mov")
        claimed = store.worker.claim("w1", limit=3)
        lost = claimed[0].lease
        store.worker.release(lost)
        results = [(c.lease, "passed", {"n": i}) for i, c in enumerate(claimed)]
        assert store.worker.complete_many(results) == [False, True, True]
        for i, c in enumerate(claimed[1:], start=1):
            done = store.jobs.get(store.org, c.job.id)
            assert done.state is C and done.report == {"n": i}
        assert store.state(lost.job_id) is Q
        last = store.jobs.events(lost.job_id)[-1]
        assert (last.kind, last.code, last.worker_id) == ("fenced", "lease_lost", "w1")
        assert store.worker.complete_many([]) == []

    def test_a_transient_failure_retries_after_a_backoff_until_attempts_run_out(
        self, store: ContractStore
    ) -> None:
        job = store.add(max_attempts=3)
        for attempt in (1, 2):
            lease = store.claim_one().lease
            assert lease.attempt == attempt
            before = store.jobs.now()
            again = store.worker.fail(lease, "ffmpeg_stalled", "FFmpeg stalled", permanent=False)
            after = store.jobs.now()
            low, high = backoff_bounds(store, attempt)
            assert again.state is Q and again.attempt == attempt
            assert (again.error_code, again.error_message) == ("ffmpeg_stalled", "FFmpeg stalled")
            assert again.lease_token is None and again.worker_id is None
            assert before + low - 0.01 <= again.run_at <= after + high + 0.01
            last = store.jobs.events(job.id)[-1]
            assert (last.kind, last.to_state, last.code) == (
                "retry_scheduled",
                "queued",
                "ffmpeg_stalled",
            )
            assert last.message and last.message.startswith("FFmpeg stalled (retry in ")
            if low > 0:
                assert store.worker.claim("w1") == [], "not before its backoff"
                store.make_due(job.id)
        lease = store.claim_one().lease
        final = store.worker.fail(lease, "ffmpeg_stalled", "FFmpeg stalled", permanent=False)
        assert final.state is F and final.attempt == 3 and final.finished_at
        kinds = [e.kind for e in store.jobs.events(job.id)]
        assert kinds == ["enqueued", *["claimed", "retry_scheduled"] * 2, "claimed", "failed"]

    def test_a_permanent_failure_fails_at_once(self, store: ContractStore) -> None:
        job = store.add(max_attempts=5)
        lease = store.claim_one().lease
        failed = store.worker.fail(lease, "not_media", "not a media file", permanent=True)
        assert failed.state is F and failed.attempt == 1 and failed.finished_at
        assert (failed.error_code, failed.error_message) == ("not_media", "not a media file")
        last = store.jobs.events(job.id)[-1]
        assert (last.kind, last.from_state, last.to_state) == ("failed", "running", "failed")
        assert (last.code, last.message, last.attempt) == ("not_media", "not a media file", 1)

    def test_release_hands_the_job_back_without_using_an_attempt(
        self, store: ContractStore
    ) -> None:
        job = store.add()
        lease = store.claim_one().lease
        store.worker.heartbeat(lease, 30.0, "analyzing")
        released = store.worker.release(lease, "its worker shut down at 30%")
        assert released.state is Q and released.attempt == 0
        assert (released.progress, released.phase, released.lease_token) == (0.0, None, None)
        assert released.run_at <= store.jobs.now()
        last = store.jobs.events(job.id)[-1]
        assert (last.kind, last.from_state, last.to_state) == ("released", "running", "queued")
        assert (last.attempt, last.worker_id) == (1, "w1")
        assert last.message == "its worker shut down at 30%"
        again = store.claim_one("w2")
        assert again.job.id == job.id and again.lease.attempt == 1

    def test_acknowledging_a_cancel_ends_the_job_cancelled(self, store: ContractStore) -> None:
        job = store.add()
        lease = store.claim_one().lease
        assert store.jobs.cancel(store.org, job.id).cancel_requested
        done = store.worker.acknowledge_cancel(lease, "cancelled on request at 40%")
        assert done.state is X and done.finished_at and done.lease_token is None
        assert (done.error_code, done.error_message) == ("cancelled", "cancelled on request at 40%")
        last = store.jobs.events(job.id)[-1]
        assert (last.kind, last.to_state, last.code) == ("cancelled", "cancelled", "cancelled")

    def test_acknowledging_a_pause_parks_the_job_and_refunds_the_attempt(
        self, store: ContractStore
    ) -> None:
        job = store.add()
        lease = store.claim_one().lease
        assert store.jobs.pause(store.org, job.id).pause_requested
        paused = store.worker.acknowledge_pause(lease, "paused on request at 60%")
        assert paused.state is P and paused.attempt == 0 and not paused.pause_requested
        assert (paused.progress, paused.phase, paused.lease_token) == (0.0, None, None)
        assert store.jobs.events(job.id)[-1].kind == "paused"
        assert store.worker.claim("w1") == []
        store.jobs.resume(store.org, job.id)
        assert store.claim_one().lease.attempt == 1

    # --- fencing ----------------------------------------------------------------------------

    def test_after_expiry_a_second_claimer_wins_and_the_first_is_fenced_off(
        self, store: ContractStore
    ) -> None:
        job = store.add(max_attempts=3)
        old = store.claim_one("old").lease
        store.expire(old)
        store.reaped_to(job.id, Q)
        requeued = store.jobs.get(store.org, job.id)
        assert requeued.error_code == "lease_expired" and requeued.lease_losses == 1
        store.make_due(job.id)  # past the reaper's backoff
        new = store.claim_one("new").lease
        assert new.attempt == 2 and new.token != old.token
        assert not store.worker.heartbeat(old, 60.0, "analyzing").lease_held
        writes: tuple[Callable[[], Job], ...] = (
            lambda: store.worker.complete(old, "passed", {}),
            lambda: store.worker.fail(old, "x", "x", permanent=True),
            lambda: store.worker.release(old),
            lambda: store.worker.acknowledge_cancel(old),
            lambda: store.worker.acknowledge_pause(old),
        )
        for write in writes:
            with pytest.raises(LeaseLost):
                write()
        assert store.worker.complete_many([(old, "passed", {})]) == [False]
        assert store.worker.heartbeat(new, 5.0, "initializing").lease_held
        done = store.worker.complete(new, "passed", {"ok": True})
        assert done.state is C and done.attempt == 2
        assert store.jobs.get(store.org, job.id).report == {"ok": True}
        history = store.jobs.events(job.id)
        fenced = [e for e in history if e.kind == "fenced"]
        assert len(fenced) == 7
        assert all((e.worker_id, e.attempt, e.code) == ("old", 1, "lease_lost") for e in fenced)
        assert fenced[0].message == "rejected heartbeat from old (attempt 1): lease lost"
        [reaped] = [e for e in history if e.kind == "reaped"]
        assert (reaped.code, reaped.from_state, reaped.to_state) == (
            "lease_expired",
            "running",
            "queued",
        )

    # --- registry ---------------------------------------------------------------------------

    def test_the_worker_registry(self, store: ContractStore) -> None:
        def mine() -> list[WorkerInfo]:
            return [w for w in store.worker.live_workers() if w.id == "w-1"]

        store.worker.register_worker("w-1", "host-a", 123, 2)
        [info] = mine()
        assert (info.hostname, info.pid, info.concurrency, info.state) == (
            "host-a",
            123,
            2,
            "running",
        )
        assert info.stopped_at is None and info.heartbeat_at == info.started_at
        store.worker.worker_heartbeat("w-1", "stopping")
        assert [w.state for w in mine()] == ["stopping"]
        store.worker.register_worker("w-1", "host-b", 456, 4)  # a restart under the same id
        [again] = mine()
        assert (again.hostname, again.pid, again.state) == ("host-b", 456, "running")
        store.worker.worker_heartbeat("w-1", "stopped")
        assert mine() == []
        store.worker.worker_heartbeat("nobody")  # an unknown worker is no error
