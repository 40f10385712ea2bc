"""One attempt (``run_attempt``) on the fake store with an injected engine: every outcome ends
in exactly one final write, and each one leaves the job where the contract says.

The job's file is real (a path source under KICKFLOW_ALLOWED_ROOTS in the test's temp dir, or
an upload under the data dir); the engine is :class:`tests.fakes.engine.FakeEngine`, so no
FFmpeg runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.errors import FfmpegFailed, FfmpegStalled, NotMedia
from kickflow.jobs import Claimed, Job, JobState
from kickflow.worker.pipeline import AttemptContext, run_attempt
from kickflow.worker.tempdirs import work_root
from tests.fakes import FakeClock, FakeJobStore
from tests.fakes.engine import FakeEngine, OnProgress, report_until_stopped

CONTENT = b"not really a movie, but real bytes on a real disk\n" * 100


def attempt_context(
    store: FakeJobStore, settings: Settings, engine: FakeEngine, release: threading.Event
) -> AttemptContext:
    """The one place these tests build an AttemptContext (inputs: the settings' local
    sources, path and upload)."""
    return AttemptContext(store, settings, engine, release)


@dataclass
class Rig:
    """A fake store with one organisation, a media file under the allowed root, and the
    worker's release flag."""

    store: FakeJobStore
    clock: FakeClock
    settings: Settings
    org: str
    media: Path
    release: threading.Event

    def submit(self, **kw: object) -> Job:
        return self.store.enqueue(self.org, "path", str(self.media), file_name="clip.mov", **kw)  # type: ignore[arg-type]

    def claim(self, worker_id: str = "w1") -> Claimed:
        [claimed] = self.store.claim(worker_id)
        return claimed

    def run(self, engine: FakeEngine, claimed: Claimed | None = None) -> str:
        ctx = attempt_context(self.store, self.settings, engine, self.release)
        return run_attempt(ctx, claimed or self.claim())

    def job(self, job_id: str) -> Job:
        return self.store.get(self.org, job_id)

    def kinds(self, job_id: str) -> list[str]:
        return [e.kind for e in self.store.events(job_id)]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    media_root = tmp_path / "media"
    media_root.mkdir()
    media = media_root / "clip.mov"
    media.write_bytes(CONTENT)
    settings = Settings(
        data_dir=tmp_path / "data",
        allowed_roots=str(media_root),
        lease_seconds=30.0,
        heartbeat_seconds=0.01,
        stuck_after_seconds=120.0,
        retry_base_seconds=30.0,
        retry_max_seconds=300.0,
        max_attempts=3,
    )
    clock = FakeClock()
    store = FakeJobStore(settings, clock=clock)
    return Rig(store, clock, settings, store.ensure_org(), media, threading.Event())


def no_temp_dirs_left(rig: Rig) -> bool:
    root = work_root(rig.settings.data_dir)
    return not root.exists() or not any(p.is_dir() and any(p.iterdir()) for p in root.iterdir())


# --- success ---------------------------------------------------------------------------------


def test_a_completed_attempt_stores_the_engines_report(rig: Rig) -> None:
    job = rig.submit()
    engine = FakeEngine(verdict="needs_review")
    assert rig.run(engine) == "completed"
    done = rig.job(job.id)
    assert done.state is JobState.COMPLETED and done.verdict == "needs_review"
    assert done.report == {"verdict": "needs_review", "file": "clip.mov", "bytes": len(CONTENT)}
    assert rig.kinds(job.id) == ["enqueued", "claimed", "completed"]
    [seen] = engine.seen
    assert seen.content == CONTENT, "the engine read a copy of the real file"
    assert seen.profile == "ebu-r128" and seen.display_name == "clip.mov"
    assert seen.settings is not None
    assert seen.settings.ffmpeg_stall_seconds < rig.settings.lease_seconds, "watchdog first"
    assert no_temp_dirs_left(rig)


def test_progress_heartbeats_walk_through_every_phase_in_order(rig: Rig) -> None:
    rig.submit()
    rig.run(FakeEngine())
    phases = [c.args[2] for c in rig.store.db.calls_of("heartbeat")]
    firsts = list(dict.fromkeys(phases))
    assert firsts == ["initializing", "downloading", "analyzing", "reporting"]
    progress = [c.args[1] for c in rig.store.db.calls_of("heartbeat")]
    assert progress == sorted(progress) and progress[0] == 5.0 and progress[-1] == 99.0


def test_an_upload_is_read_from_the_data_dir(rig: Rig) -> None:
    uploads = rig.settings.data_dir / "uploads" / "org"
    uploads.mkdir(parents=True)
    (uploads / "up.mov").write_bytes(b"uploaded bytes")
    job = rig.store.enqueue(rig.org, "upload", "org/up.mov", file_name="up.mov")
    engine = FakeEngine()
    assert rig.run(engine) == "completed"
    assert engine.seen[0].content == b"uploaded bytes"
    assert rig.job(job.id).state is JobState.COMPLETED


# --- failures --------------------------------------------------------------------------------


def test_a_transient_failure_schedules_a_retry_after_a_backoff(rig: Rig) -> None:
    job = rig.submit()
    failing = FakeEngine(raises=FfmpegStalled("FFmpeg made no progress for 40 s at 63% — killed"))
    before = rig.clock.current
    assert rig.run(failing) == "retry_scheduled"
    again = rig.job(job.id)
    assert again.state is JobState.QUEUED and again.error_code == "ffmpeg_stalled"
    assert (
        again.error_message
        == "FFmpeg made no progress for 40 s at 63% (analysis) — killed; will retry"
    )
    assert before + 30.0 <= again.run_at <= before + 30.0 * 1.25 + 0.1
    assert rig.store.claim("w1") == [], "not before the backoff"
    rig.clock.advance(again.run_at - rig.clock.current)
    second = rig.claim()
    assert second.lease.attempt == 2
    assert rig.run(FakeEngine(), second) == "completed"


def test_a_permanent_failure_fails_at_once_with_the_engines_sentence(rig: Rig) -> None:
    job = rig.submit()
    assert rig.run(FakeEngine(raises=NotMedia())) == "failed"
    failed = rig.job(job.id)
    assert failed.state is JobState.FAILED and failed.attempt == 1
    assert failed.error_code == "not_media"
    assert failed.error_message == "Not a media file: no audio or video stream"


def test_the_last_attempt_gives_up(rig: Rig) -> None:
    job = rig.submit(max_attempts=1)
    assert rig.run(FakeEngine(raises=FfmpegStalled())) == "failed"
    failed = rig.job(job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "ffmpeg_stalled"
    assert failed.error_message and failed.error_message.endswith("gave up: no attempts left")


def test_a_bug_in_the_engine_is_an_internal_error_that_is_retried(rig: Rig) -> None:
    job = rig.submit()
    assert rig.run(FakeEngine(raises=ZeroDivisionError("division by zero"))) == "retry_scheduled"
    again = rig.job(job.id)
    assert again.error_code == "internal_error"
    assert (
        again.error_message
        == "unexpected error during analysis: ZeroDivisionError: division by zero"
    )


def test_the_owner_never_reads_a_server_path_or_a_worker_id(rig: Rig) -> None:
    job = rig.submit(max_attempts=1)
    tail = "/srv/kickflow/data/work/w1/x/branch-3.wav: Invalid data found when processing input"
    assert rig.run(FakeEngine(raises=FfmpegFailed(1, tail))) == "failed"
    message = rig.job(job.id).error_message or ""
    assert "/srv/kickflow" not in message and "branch-3.wav" in message and "w1" not in message


def test_a_path_outside_the_allowed_roots_fails_permanently(rig: Rig, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.mov"
    outside.write_bytes(CONTENT)
    job = rig.store.enqueue(rig.org, "path", str(outside), file_name="elsewhere.mov")
    engine = FakeEngine()
    assert rig.run(engine) == "failed"
    failed = rig.job(job.id)
    assert failed.error_code == "source_not_allowed" and engine.seen == []
    assert failed.error_message == f"{outside} is outside the allowed roots"


def test_a_file_over_the_size_limit_fails_before_it_is_copied(rig: Rig) -> None:
    rig.settings = rig.settings.model_copy(update={"max_file_mb": 1})
    rig.media.write_bytes(b"x" * 1_500_000)
    job = rig.submit()
    assert rig.run(FakeEngine()) == "failed"
    failed = rig.job(job.id)
    assert failed.error_code == "file_too_large"
    assert (
        failed.error_message
        == "the file is 2 MB, over the 1 MB limit (KICKFLOW_MAX_FILE_MB) — not retried"
    )


# --- stop signals on the progress path ----------------------------------------------------


def test_a_cancel_request_mid_analysis_stops_the_engine_and_ends_cancelled(rig: Rig) -> None:
    job = rig.submit()

    def cancel_midway(on_progress: OnProgress) -> None:
        on_progress(0.3)
        rig.store.cancel(rig.org, job.id)
        report_until_stopped(on_progress)

    assert rig.run(FakeEngine(script=cancel_midway)) == "cancelled"
    done = rig.job(job.id)
    assert done.state is JobState.CANCELLED and done.error_code == "cancelled"
    assert done.error_message == "cancelled on request at 68%"  # 40 + 55 * 0.5
    assert rig.kinds(job.id)[-2:] == ["cancel_requested", "cancelled"]


def test_a_pause_request_parks_the_job_without_using_an_attempt(rig: Rig) -> None:
    job = rig.submit()

    def pause_midway(on_progress: OnProgress) -> None:
        rig.store.pause(rig.org, job.id)
        report_until_stopped(on_progress, 0.2)

    assert rig.run(FakeEngine(script=pause_midway)) == "paused"
    paused = rig.job(job.id)
    assert paused.state is JobState.PAUSED and paused.attempt == 0 and paused.progress == 0
    rig.store.resume(rig.org, job.id)
    assert rig.claim().lease.attempt == 1


def test_a_lost_lease_drops_the_outputs_and_records_the_fenced_write(rig: Rig) -> None:
    job = rig.submit()

    def taken_over(on_progress: OnProgress) -> None:
        on_progress(0.4)
        rig.clock.advance(rig.settings.lease_seconds + 1)  # this worker froze for a while
        assert rig.store.reap().requeued == [job.id]
        rig.clock.advance(rig.settings.retry_max_seconds * 1.25)
        rig.claim("w2")
        report_until_stopped(on_progress, 0.6)

    engine = FakeEngine(script=taken_over)
    assert rig.run(engine) == "fenced"
    now = rig.job(job.id)
    assert now.state is JobState.RUNNING and now.worker_id == "w2" and now.attempt == 2
    assert now.report is None and now.verdict is None, "the first attempt's outputs are dropped"
    [fenced] = [e for e in rig.store.events(job.id) if e.kind == "fenced"]
    assert (fenced.worker_id, fenced.attempt, fenced.code) == ("w1", 1, "lease_lost")
    assert no_temp_dirs_left(rig)


def test_the_release_flag_hands_the_job_back_mid_analysis(rig: Rig) -> None:
    job = rig.submit()

    def shutdown_midway(on_progress: OnProgress) -> None:
        on_progress(0.5)
        rig.release.set()  # the worker is shutting down
        report_until_stopped(on_progress)

    assert rig.run(FakeEngine(script=shutdown_midway)) == "released"
    back = rig.job(job.id)
    assert back.state is JobState.QUEUED and back.attempt == 0 and back.worker_id is None
    last = rig.store.events(job.id)[-1]
    assert (last.kind, last.message) == ("released", "its worker shut down at 68%")


def test_a_release_before_the_start_hands_the_job_back_at_once(rig: Rig) -> None:
    job = rig.submit()
    rig.release.set()
    engine = FakeEngine()
    assert rig.run(engine) == "released"
    assert engine.seen == [] and rig.job(job.id).state is JobState.QUEUED


# --- the final write itself fails ------------------------------------------------------------


def test_a_transient_error_on_the_result_write_retries_the_job(rig: Rig) -> None:
    job = rig.submit()
    rig.store.db.fail_next("complete")
    assert rig.run(FakeEngine()) == "retry_scheduled"
    again = rig.job(job.id)
    assert again.state is JobState.QUEUED and again.error_code == "database_error"
    assert again.report is None
    assert again.error_message and again.error_message.endswith("; will retry")


def test_when_every_final_write_fails_the_reaper_recovers_the_job(rig: Rig) -> None:
    job = rig.submit()
    rig.store.db.fail_next("complete")
    rig.store.db.fail_next("fail")
    assert rig.run(FakeEngine()) == "write_failed"
    assert rig.job(job.id).state is JobState.RUNNING, "nothing was written"
    rig.clock.advance(rig.settings.lease_seconds + 1)
    assert rig.store.reap().requeued == [job.id]
    assert rig.job(job.id).error_code == "lease_expired"
