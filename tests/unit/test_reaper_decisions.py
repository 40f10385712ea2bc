"""The reaper's decisions (``kickflow.jobs.reaper.is_stuck`` / ``decide``: pure, shared by the
SQL store and the fake), then the same decisions played out on the fake store's clock."""

from __future__ import annotations

import dataclasses

import pytest

from kickflow.config import Settings
from kickflow.jobs import Job, JobState, states
from kickflow.jobs.reaper import ReapPolicy, decide, is_stuck
from tests.fakes import FakeClock, FakeJobStore

NOW = 1_700_000_000.0
POLICY = ReapPolicy(stuck_after=120.0, retry_base=10.0, retry_max=60.0)


def running(**changes: object) -> Job:
    """A job in its first attempt that heartbeat 5 s ago at 40 %, lease valid for 25 s."""
    job = Job(
        id="j1", org_id="o1", project=None, file_name="a.mov", file_size=None,
        source_type="path", source_ref="/media/a.mov", profile="default",
        profile_source=None, idempotency_key=None, state=JobState.RUNNING, phase="analyzing",
        progress=40.0,
        progress_at=NOW - 5, attempt=1, max_attempts=3, lease_losses=0, run_at=NOW - 100,
        priority=0, lease_token="t" * 32, lease_expires_at=NOW + 25, worker_id="w1",
        heartbeat_at=NOW - 5, cancel_requested=False, pause_requested=False, error_code=None,
        error_message=None, verdict=None, report=None, created_at=NOW - 100,
        started_at=NOW - 60, finished_at=None, updated_at=NOW - 5,
    )  # fmt: skip
    return dataclasses.replace(job, **changes)  # type: ignore[arg-type]


EXPIRED = {"lease_expires_at": NOW - 1, "heartbeat_at": NOW - 31}


# --- what counts as stuck --------------------------------------------------------------------


def test_stuck_means_a_running_job_with_an_expired_lease_or_still_progress() -> None:
    assert not is_stuck(running(), NOW, POLICY.stuck_after)
    assert is_stuck(running(**EXPIRED), NOW, POLICY.stuck_after)
    assert is_stuck(running(progress_at=NOW - 121), NOW, POLICY.stuck_after)
    assert not is_stuck(running(lease_expires_at=NOW), NOW, POLICY.stuck_after), "strictly past"
    assert not is_stuck(running(progress_at=NOW - 120), NOW, POLICY.stuck_after)
    for state in (JobState.QUEUED, JobState.PAUSED, JobState.FAILED):
        assert not is_stuck(running(state=state, **EXPIRED), NOW, POLICY.stuck_after)


# --- what the reaper does --------------------------------------------------------------------


def test_an_expired_lease_with_attempts_left_is_requeued_after_a_backoff() -> None:
    d = decide(running(**EXPIRED), NOW, POLICY)
    assert (d.action, d.code) == ("reap_requeue", "lease_expired")
    assert NOW + 10 <= d.values["run_at"] <= NOW + 12.5
    assert d.message == (
        "its worker stopped heartbeating 31 s ago at 40% (analyzing): lease expired"
        " — re-queued (attempt 1 of 3 used)"
    )
    assert d.values["error_message"] == d.message and d.values["error_code"] == "lease_expired"
    assert (d.values["lease_losses"], d.values["progress"], d.values["phase"]) == (1, 0.0, None)
    assert d.values["lease_token"] is d.values["worker_id"] is d.values["lease_expires_at"] is None
    assert "attempt" not in d.values, "the lost attempt counts"


def test_the_backoff_grows_with_attempts_up_to_the_cap() -> None:
    second = decide(running(attempt=2, max_attempts=5, **EXPIRED), NOW, POLICY)
    assert NOW + 20 <= second.values["run_at"] <= NOW + 25
    fourth = decide(running(attempt=4, max_attempts=5, **EXPIRED), NOW, POLICY)
    assert NOW + 60 <= fourth.values["run_at"] <= NOW + 75  # 80 s capped at 60, plus jitter


def test_the_last_attempt_fails_with_the_reason() -> None:
    d = decide(running(attempt=3, **EXPIRED), NOW, POLICY)
    assert (d.action, d.code, d.values["error_code"]) == (
        "reap_fail",
        "lease_expired",
        "lease_expired",
    )
    assert d.values["finished_at"] == NOW and "run_at" not in d.values
    assert d.message.endswith("lease expired — failed after 3 attempts")


def test_still_progress_is_no_progress() -> None:
    d = decide(running(progress_at=NOW - 130), NOW, POLICY)
    assert (d.action, d.code) == ("reap_requeue", "no_progress")
    assert d.message.startswith("no progress for 130 s at 40% (analyzing) — re-queued")


def test_a_pending_cancel_request_ends_the_job_cancelled() -> None:
    d = decide(running(cancel_requested=True, pause_requested=True, **EXPIRED), NOW, POLICY)
    assert d.action == "cancel_stuck" and d.values["error_code"] == "cancelled"
    assert d.code == "lease_expired" and d.values["finished_at"] == NOW
    assert d.message.endswith("— cancelled as requested")


def test_a_pending_pause_request_parks_the_job_and_refunds_the_attempt() -> None:
    d = decide(running(attempt=3, pause_requested=True, **EXPIRED), NOW, POLICY)
    assert d.action == "pause_ack" and d.message.endswith("— paused as requested")
    assert (d.values["attempt"], d.values["pause_requested"]) == (2, False)


@pytest.mark.parametrize(
    "changes",
    [{}, {"attempt": 3}, {"cancel_requested": True}, {"pause_requested": True}],
)
def test_every_decision_is_a_legal_change_of_a_running_job(changes: dict[str, object]) -> None:
    d = decide(running(**EXPIRED, **changes), NOW, POLICY)
    assert states.is_legal(d.action, JobState.RUNNING)
    assert set(d.values) <= {f.name for f in dataclasses.fields(Job)}


# --- on the fake store's clock ---------------------------------------------------------------


@pytest.fixture
def clocked() -> tuple[FakeJobStore, FakeClock, str]:
    settings = Settings(
        lease_seconds=30.0, heartbeat_seconds=10.0, stuck_after_seconds=120.0,
        retry_base_seconds=10.0, retry_max_seconds=60.0, max_attempts=2,
    )  # fmt: skip
    clock = FakeClock()
    store = FakeJobStore(settings, clock=clock)
    return store, clock, store.ensure_org()


def test_a_silent_worker_loses_its_job_then_the_job_fails_after_its_last_attempt(
    clocked: tuple[FakeJobStore, FakeClock, str],
) -> None:
    store, clock, org = clocked
    job = store.enqueue(org, "path", "/media/a.mov", file_name="a.mov")
    store.claim("w1")
    clock.advance(29.0)
    assert store.reap().total == 0, "the lease still holds"
    clock.advance(2.0)
    assert store.reap().requeued == [job.id]
    assert store.claim("w2") == [], "backoff"
    clock.advance(12.5)
    [second] = store.claim("w2")
    assert second.lease.attempt == 2
    clock.advance(31.0)
    assert store.reap().failed == [job.id]
    failed = store.get(org, job.id)
    assert failed.error_code == "lease_expired" and failed.lease_losses == 2


def test_a_long_healthy_job_is_never_reaped(clocked: tuple[FakeJobStore, FakeClock, str]) -> None:
    store, clock, org = clocked
    job = store.enqueue(org, "path", "/media/a.mov", file_name="a.mov")
    [claimed] = store.claim("w1")
    for step in range(1, 1000):  # almost three hours of fake time, beating every 10 s
        clock.advance(10.0)
        assert store.heartbeat(claimed.lease, step * 0.1, "analyzing").lease_held
        assert store.reap().total == 0
    assert store.get(org, job.id).state is JobState.RUNNING


def test_a_job_that_beats_without_progress_is_reaped_as_no_progress(
    clocked: tuple[FakeJobStore, FakeClock, str],
) -> None:
    store, clock, org = clocked
    job = store.enqueue(org, "path", "/media/a.mov", file_name="a.mov")
    [claimed] = store.claim("w1")
    store.heartbeat(claimed.lease, 40.0, "analyzing")
    for _ in range(11):  # 110 s of beats, progress stuck at 40 %
        clock.advance(10.0)
        store.heartbeat(claimed.lease, 40.0, "analyzing")
        assert store.reap().total == 0
    clock.advance(11.0)  # 121 s without progress: past stuck_after
    store.heartbeat(claimed.lease, 40.0, "analyzing")
    assert store.reap().requeued == [job.id]
    assert store.get(org, job.id).error_code == "no_progress"
