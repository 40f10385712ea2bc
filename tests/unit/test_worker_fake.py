"""The Worker (slots, claimer, housekeeping, shutdown) on the fake store with an injected
engine: real threads and real files, no database and no FFmpeg."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.errors import DatabaseError
from kickflow.jobs import Job, JobState
from kickflow.worker import Worker
from tests.fakes import FakeClock, FakeJobStore
from tests.fakes.engine import FakeEngine, OnProgress, report_until_stopped

WAIT_S = 10.0


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@dataclass
class Rig:
    store: FakeJobStore
    clock: FakeClock
    settings: Settings
    org: str
    media: Path
    workers: list[Worker] = field(default_factory=list)

    def submit(self) -> Job:
        return self.store.enqueue(self.org, "path", str(self.media), file_name="clip.mov")

    def start(self, engine: FakeEngine, concurrency: int = 1) -> Worker:
        worker = Worker(self.store, self.settings, concurrency=concurrency, engine=engine)
        self.workers.append(worker)
        worker.start()
        return worker

    def stop(self, worker: Worker, grace: float = 0.0) -> None:
        self.workers.remove(worker)
        worker.stop(grace)

    def state(self, job_id: str) -> JobState:
        return self.store.get(self.org, job_id).state

    def count(self, state: str) -> int:
        return self.store.counts(self.org)[state]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    root = tmp_path / "media"
    root.mkdir()
    media = root / "clip.mov"
    media.write_bytes(b"frames" * 1000)
    settings = Settings(
        data_dir=tmp_path / "data",
        allowed_roots=str(root),
        lease_seconds=30.0,
        heartbeat_seconds=0.05,
        poll_seconds=0.01,
        reaper_interval_seconds=0.05,
        retry_base_seconds=0.0,
        retry_max_seconds=0.0,
        shutdown_grace_seconds=0.0,
    )
    clock = FakeClock()
    store = FakeJobStore(settings, clock=clock)
    rig = Rig(store, clock, settings, store.ensure_org(), media)
    yield rig
    for worker in list(rig.workers):
        rig.stop(worker)


def test_n_slots_run_n_jobs_at_the_same_time(rig: Rig) -> None:
    together = threading.Barrier(3, timeout=WAIT_S)

    def meet(on_progress: OnProgress) -> None:
        on_progress(0.1)
        together.wait()  # breaks (and the job fails) unless three slots run at once
        on_progress(1.0)

    for _ in range(3):
        rig.submit()
    worker = rig.start(FakeEngine(script=meet), concurrency=3)
    wait_for("three completed jobs", lambda: rig.count("completed") == 3)
    first_claim = rig.store.db.calls_of("claim")[0]
    assert first_claim.args == (worker.id, 3), "one batch claim for the free slots"
    assert [w.concurrency for w in rig.store.live_workers() if w.id == worker.id] == [3]
    rig.stop(worker)
    assert worker.id not in [w.id for w in rig.store.live_workers()]
    assert rig.store.db.tables.workers[worker.id].state == "stopped"


def test_stop_lets_a_running_job_finish_within_the_grace_period(rig: Rig) -> None:
    go = threading.Event()

    def finish_when_told(on_progress: OnProgress) -> None:
        go.wait(WAIT_S)
        on_progress(1.0)

    job = rig.submit()
    engine = FakeEngine(script=finish_when_told)
    worker = rig.start(engine)
    assert engine.entered.wait(WAIT_S)
    stopper = threading.Thread(target=rig.stop, args=(worker, WAIT_S))
    stopper.start()

    def stopping() -> bool:
        return [w.state for w in rig.store.live_workers() if w.id == worker.id] == ["stopping"]

    wait_for("the worker to say it is stopping", stopping)
    go.set()
    stopper.join(WAIT_S)
    assert not stopper.is_alive()
    assert rig.state(job.id) is JobState.COMPLETED and worker.outcomes["completed"] == 1


def test_stop_hands_a_job_that_reports_progress_back_to_the_queue(rig: Rig) -> None:
    job = rig.submit()
    engine = FakeEngine(script=report_until_stopped)
    worker = rig.start(engine)
    assert engine.entered.wait(WAIT_S)
    rig.stop(worker, grace=0.0)
    back = rig.store.get(rig.org, job.id)
    assert back.state is JobState.QUEUED and back.attempt == 0
    assert worker.outcomes["released"] == 1
    assert rig.store.events(job.id)[-1].message == "its worker shut down at 68%"


def test_stop_releases_a_wedged_job_from_outside_its_slot(rig: Rig) -> None:
    unwedge = threading.Event()

    def wedged(_: OnProgress) -> None:  # never reports progress
        unwedge.wait(WAIT_S)

    job = rig.submit()
    engine = FakeEngine(script=wedged)
    worker = rig.start(engine)
    assert engine.entered.wait(WAIT_S)
    rig.stop(worker, grace=0.0)
    back = rig.store.get(rig.org, job.id)
    assert back.state is JobState.QUEUED and back.attempt == 0 and back.worker_id is None
    released = rig.store.events(job.id)[-1]
    assert (released.kind, released.message) == ("released", "its worker shut down")
    unwedge.set()  # the slot wakes up later: its own final write is fenced off

    def fenced() -> bool:
        return any(e.kind == "fenced" for e in rig.store.events(job.id))

    wait_for("the wedged slot's write to be fenced", fenced)
    assert rig.state(job.id) is JobState.QUEUED


def test_the_workers_reaper_recovers_a_dead_workers_job(rig: Rig) -> None:
    job = rig.submit()
    rig.store.claim("dead-worker")
    rig.clock.advance(rig.settings.lease_seconds + 1)
    worker = rig.start(FakeEngine())
    wait_for("the job to complete", lambda: rig.state(job.id) is JobState.COMPLETED)
    kinds = [(e.kind, e.worker_id) for e in rig.store.events(job.id)]
    assert ("reaped", "dead-worker") in kinds and ("claimed", worker.id) in kinds
    assert rig.store.get(rig.org, job.id).attempt == 2


def test_a_failing_reaper_logs_the_runbook_line_and_the_worker_goes_on(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="kickflow.worker")
    rig.store.db.fail_next("reap", DatabaseError("database error: disk I/O error"), times=2)
    worker = rig.start(FakeEngine())
    wait_for("the runbook line", lambda: "Stuck job check failed" in caplog.text)
    assert rig.store.reaper_status()["last_error"] == "database error: disk I/O error"
    job = rig.submit()
    worker.wake()
    wait_for("the job to complete", lambda: rig.state(job.id) is JobState.COMPLETED)


def test_failing_claims_do_not_take_the_worker_down(rig: Rig) -> None:
    rig.store.db.fail_next("claim", times=3)
    job = rig.submit()
    worker = rig.start(FakeEngine())
    wait_for("the slot to complete the job", lambda: worker.outcomes["completed"] == 1)
    assert rig.state(job.id) is JobState.COMPLETED
    assert len(rig.store.db.calls_of("claim")) > 3
