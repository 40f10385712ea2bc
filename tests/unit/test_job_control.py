"""JobControl, the attempt's progress path: heartbeats at their cadence (or when forced), and
the reply (lease lost, cancel, pause) or a shutdown release raised right where progress is
reported; transient store trouble is ridden out until it has lasted as long as the lease."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import pytest

from kickflow.config import Settings
from kickflow.errors import (
    DatabaseBusy,
    FileTooLarge,
    JobCancelRequested,
    JobPauseRequested,
    JobReleased,
    KickflowError,
    LeaseLost,
)
from kickflow.jobs import Job, Lease
from kickflow.worker.control import JobControl
from tests.fakes import FakeClock, FakeJobStore

DEADLINE_S = 10.0


@dataclass
class Held:
    store: FakeJobStore
    org: str
    job: Job
    lease: Lease
    release: threading.Event

    def control(self, heartbeat: float = 60.0, lease: float = 30.0) -> JobControl:
        return JobControl(self.store, self.lease, heartbeat, self.release, lease)

    def beats(self) -> int:
        return len(self.store.db.calls_of("heartbeat"))

    def stored(self) -> Job:
        return self.store.get(self.org, self.job.id)


@pytest.fixture
def held() -> Held:
    clock = FakeClock()
    store = FakeJobStore(Settings(lease_seconds=30.0, heartbeat_seconds=10.0), clock=clock)
    org = store.ensure_org()
    job = store.enqueue(org, "path", "/media/a.mov", file_name="a.mov")
    [claimed] = store.claim("w1")
    return Held(store, org, job, claimed.lease, threading.Event())


# --- cadence ---------------------------------------------------------------------------------


def test_the_first_report_beats_then_only_when_due_or_forced(held: Held) -> None:
    control = held.control(heartbeat=60.0)
    control.report(5.0, "initializing")
    assert held.beats() == 1
    for progress in (6.0, 7.0, 8.0):
        control.report(progress, "initializing")
    assert held.beats() == 1, "not due for another minute"
    assert held.stored().progress == 5.0
    control.report(9.0, "downloading", force=True)
    assert held.beats() == 2
    assert (held.stored().progress, held.stored().phase) == (9.0, "downloading")
    assert (control.progress, control.phase) == (9.0, "downloading")


def test_heartbeats_keep_their_cadence_however_often_progress_is_reported(held: Held) -> None:
    period = 0.05
    control = held.control(heartbeat=period)
    reports = 0
    deadline = time.monotonic() + DEADLINE_S
    while held.beats() < 4:
        assert time.monotonic() < deadline, "heartbeats stopped"
        control.report(50.0, "analyzing")
        reports += 1
        time.sleep(0.001)
    times = [c.at for c in held.store.db.calls_of("heartbeat")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= period * 0.99 for gap in gaps), gaps
    assert reports > held.beats()


def test_progress_is_clamped_to_0_100(held: Held) -> None:
    control = held.control()
    control.report(150.0, "analyzing", force=True)
    assert held.stored().progress == 100.0
    control.report(-3.0, "analyzing", force=True)
    assert held.stored().progress == 0.0


# --- the reply -------------------------------------------------------------------------------


def test_a_lost_lease_is_raised_on_the_progress_path(held: Held) -> None:
    control = held.control()
    held.store.clock.advance(31.0)
    held.store.reap()
    with pytest.raises(LeaseLost, match="lease lost at 40%"):
        control.report(40.0, "analyzing", force=True)


def test_cancel_and_pause_requests_are_raised_on_the_progress_path(held: Held) -> None:
    control = held.control()
    held.store.pause(held.org, held.job.id)
    with pytest.raises(JobPauseRequested):
        control.report(20.0, "analyzing", force=True)
    held.store.cancel(held.org, held.job.id)
    with pytest.raises(JobCancelRequested):  # cancel wins when both are asked
        control.report(21.0, "analyzing", force=True)


def test_the_release_flag_stops_the_job_without_asking_the_store(held: Held) -> None:
    control = held.control()
    held.release.set()
    with pytest.raises(JobReleased):
        control.report(50.0, "analyzing", force=True)
    assert held.beats() == 0


# --- store trouble ---------------------------------------------------------------------------


def test_a_failing_heartbeat_does_not_stop_healthy_work(held: Held) -> None:
    control = held.control()
    held.store.db.fail_next("heartbeat")
    held.store.db.fail_next("heartbeat", DatabaseBusy())
    control.report(30.0, "analyzing", force=True)  # logged, not raised
    control.report(31.0, "analyzing", force=True)
    assert held.stored().progress == 0.0, "nothing got through yet"
    control.report(32.0, "analyzing", force=True)
    assert held.stored().progress == 32.0


def test_store_trouble_as_long_as_the_lease_stops_the_job(held: Held) -> None:
    control = held.control(heartbeat=0.01, lease=0.2)
    held.store.db.fail_next("heartbeat", times=10_000)
    started = time.monotonic()
    deadline = started + DEADLINE_S
    with pytest.raises(LeaseLost, match="no heartbeat accepted"):
        while time.monotonic() < deadline:
            control.report(30.0, "analyzing", force=True)
            time.sleep(0.005)
    assert time.monotonic() - started >= control.silence_limit


def test_a_permanent_error_from_the_store_is_raised(held: Held) -> None:
    control = held.control()
    held.store.db.fail_next("heartbeat", KickflowError("the service refused the protocol"))
    with pytest.raises(KickflowError, match="refused"):
        control.report(30.0, "analyzing", force=True)


# --- download bytes and analysis fractions ---------------------------------------------------


def test_downloaded_bytes_map_to_10_to_40_percent(held: Held) -> None:
    control = held.control()
    control.on_bytes(0, 1000, 0)
    assert control.progress == 10.0 and control.phase == "downloading"
    control.on_bytes(500, 1000, 0)
    assert control.progress == 25.0
    control.on_bytes(2000, 1000, 0)  # more than announced
    assert control.progress == 40.0
    control.on_bytes(10**12, None, 0)  # unknown size, no limit
    assert control.progress == 10.0


def test_the_size_limit_is_checked_on_real_bytes(held: Held) -> None:
    control = held.control()
    control.on_bytes(1_000_000, None, 1_000_000)  # exactly at the limit: fine
    with pytest.raises(FileTooLarge) as info:
        control.on_bytes(2_000_001, None, 1_000_000)
    assert info.value.message == (
        "the file exceeds 2 MB, over the 1 MB limit (KICKFLOW_MAX_FILE_MB) — not retried"
    )
    assert info.value.permanent


def test_analysis_fractions_map_to_40_to_95_percent(held: Held) -> None:
    control = held.control()
    for fraction, expected in ((0.0, 40.0), (0.5, 67.5), (1.0, 95.0), (7.0, 95.0), (-1, 40.0)):
        control.on_fraction(fraction)
        assert (control.progress, control.phase) == (expected, "analyzing")
