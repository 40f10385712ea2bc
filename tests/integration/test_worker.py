"""The worker with the real engine on real media (FFmpeg lavfi), on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.jobs import Job, JobState, JobStore, SqlJobStore
from kickflow.worker import Worker
from kickflow.worker.tempdirs import work_root
from tests.fixtures_media import MediaFactory

LONG_ARGS = [
    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi",
    "-i", "sine=f=1000:sample_rate=48000", "-t", "300", "-c:v", "libx264",
    "-preset", "ultrafast", "-c:a", "aac",
]  # fmt: skip


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ffmpeg_pids(marker: str) -> list[int]:
    """Live FFmpeg processes whose command line mentions ``marker`` (a job id)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if "ffmpeg" in cmd and marker in cmd and ") Z" not in stat:
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="session")
def long_clip(make_media: MediaFactory) -> Path:
    """300 s of 640x360: about 6 s of analysis here, with steadily moving progress."""
    return make_media("long-640x360-300s.mp4", LONG_ARGS)


@pytest.fixture
def longer_clip(make_media: MediaFactory) -> Path:
    """540 s of 640x360: about 10 s of analysis here, well over twice a 3-s stuck_after."""
    args = [("540" if a == "300" else a) for a in LONG_ARGS]
    return make_media("long-640x360-540s.mp4", args)


@pytest.fixture
def bad_file(job_settings: Settings) -> Path:
    roots = job_settings.allowed_root_paths()
    path = roots[0] / "notes.mp4"
    path.write_text("these are meeting notes, not a video\n")
    return path


def submit(store: JobStore, org: str, path: Path) -> Job:
    return store.enqueue(org, "path", str(path), file_name=path.name)


def test_jobs_run_through_every_phase_and_leave_no_temp_files(
    store: JobStore, run_worker: Callable[..., Worker], short_clip: Path
) -> None:
    org = store.ensure_org()
    ids = [submit(store, org, short_clip).id for _ in range(3)]
    worker = run_worker(concurrency=2)
    wait_for("3 completed jobs", lambda: store.counts(org)["completed"] == 3)
    for job_id in ids:
        job = store.get(org, job_id)
        assert job.attempt == 1 and job.progress == 100.0 and job.phase == "done"
        assert job.verdict in {"passed", "needs_review", "failed"}
        assert job.report and job.report["verdict"] == job.verdict
        kinds = [e.kind for e in store.events(job_id)]
        assert kinds == ["enqueued", "claimed", "completed"]
    assert [w.id for w in store.live_workers()] == [worker.id]
    worker.stop()
    assert list((work_root(store.settings.data_dir) / worker.id).iterdir()) == []
    assert store.live_workers() == []


def test_bad_media_fails_once_with_the_engines_message(
    store: JobStore, run_worker: Callable[..., Worker], bad_file: Path
) -> None:
    org = store.ensure_org()
    job = submit(store, org, bad_file)
    run_worker()
    wait_for("the failure", lambda: store.get(org, job.id).terminal)
    failed = store.get(org, job.id)
    assert failed.state is JobState.FAILED and failed.attempt == 1
    assert failed.error_code == "not_media"
    assert failed.error_message and "not a media file" in failed.error_message
    assert [e.kind for e in store.events(job.id)] == ["enqueued", "claimed", "failed"]


def test_file_over_the_size_limit_fails_permanently(
    job_settings: Settings, store: JobStore, run_worker: Callable[..., Worker], long_clip: Path
) -> None:
    org = store.ensure_org()
    job = submit(store, org, long_clip)
    run_worker(job_settings.model_copy(update={"max_file_mb": 1}))
    wait_for("the failure", lambda: store.get(org, job.id).terminal)
    failed = store.get(org, job.id)
    assert failed.state is JobState.FAILED and failed.attempt == 1
    assert failed.error_code == "file_too_large"
    assert failed.error_message and "KICKFLOW_MAX_FILE_MB" in failed.error_message


def test_long_healthy_job_outlives_stuck_after_and_completes(
    job_settings: Settings, store: JobStore, run_worker: Callable[..., Worker], longer_clip: Path
) -> None:
    # Progress reaches the database every 0.5 s, while FFmpeg runs and after it (probing,
    # reading each branch's output and judging move it on too); FFmpeg's own progress can
    # pause for a second or two on a loaded machine, so 3 s of stuck_after, and the job still
    # runs more than twice as long.
    settings = job_settings.model_copy(update={"stuck_after_seconds": 3.0, "lease_seconds": 6.0})
    org = store.ensure_org()
    job = submit(store, org, longer_clip)
    started = time.monotonic()
    run_worker(settings)
    wait_for("completion", lambda: store.get(org, job.id).terminal, timeout=90)
    took = time.monotonic() - started
    done = store.get(org, job.id)
    assert done.state is JobState.COMPLETED and done.attempt == 1, done.error_message
    assert took > 2 * settings.stuck_after_seconds
    assert not [e for e in store.events(job.id) if e.kind in {"reaped", "fenced"}], [
        (e.kind, e.message) for e in store.events(job.id)
    ]


def _analysing(store: JobStore, org: str, job_id: str) -> Callable[[], bool]:
    def check() -> bool:
        job = store.get(org, job_id)
        return job.phase == "analyzing" and job.progress > 45 and bool(ffmpeg_pids(job_id))

    return check


def test_cancel_stops_ffmpeg_within_one_heartbeat(
    store: JobStore, run_worker: Callable[..., Worker], long_clip: Path
) -> None:
    org = store.ensure_org()
    job = submit(store, org, long_clip)
    run_worker()
    wait_for("analysis", _analysing(store, org, job.id))
    asked = time.monotonic()
    store.cancel(org, job.id)
    wait_for("no FFmpeg", lambda: not ffmpeg_pids(job.id), timeout=10)
    stopped_after = time.monotonic() - asked
    wait_for("cancelled", lambda: store.get(org, job.id).state is JobState.CANCELLED, 10)
    # one heartbeat period, plus the engine's 0.5 s progress throttle and the kill grace
    assert stopped_after <= store.settings.heartbeat_seconds + 1.5
    assert store.get(org, job.id).error_code == "cancelled"


def test_graceful_stop_hands_running_jobs_back_without_using_an_attempt(
    store: JobStore, run_worker: Callable[..., Worker], long_clip: Path
) -> None:
    org = store.ensure_org()
    job = submit(store, org, long_clip)
    worker = run_worker()
    wait_for("analysis", _analysing(store, org, job.id))
    worker.stop(grace=0.2)
    released = store.get(org, job.id)
    assert released.state is JobState.QUEUED and released.attempt == 0
    assert "released" in [e.kind for e in store.events(job.id)]
    wait_for("no FFmpeg", lambda: not ffmpeg_pids(job.id), timeout=10)


def test_stale_temp_dirs_of_dead_workers_are_removed_at_start(
    store: JobStore, run_worker: Callable[..., Worker]
) -> None:
    stale = work_root(store.settings.data_dir) / "dead-worker-1" / "some-job-a1"
    stale.mkdir(parents=True)
    (stale / "partial.mov").write_bytes(b"x" * 100)
    run_worker()
    assert not stale.parent.exists()


def test_a_failing_reaper_logs_the_runbook_line_and_keeps_going(
    sqlite_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The schema is broken on purpose, so this runs on a throw-away SQLite copy only.
    path = tmp_path / "broken.db"
    shutil.copyfile(sqlite_template, path)
    job_settings = Settings(data_dir=tmp_path / "data")
    store = SqlJobStore(f"sqlite:///{path}", job_settings)
    worker = Worker(store, job_settings)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE flags RENAME TO flags_gone")
    caplog.set_level(logging.ERROR, logger="kickflow.worker")
    worker.reap_once()
    worker.reap_once()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("[QCWorker] Stuck job check failed: database error:")
    store.close()


def test_worker_process_id_is_unique_per_start(store: JobStore) -> None:
    a, b = Worker(store), Worker(store)
    assert a.id != b.id and str(os.getpid()) in a.id


@pytest.mark.postgres
def test_dropped_database_connections_mid_job_do_not_lose_it(
    pg_database_url: str, tmp_path: Path, long_clip: Path, media_dir: Path
) -> None:
    """Every server connection is killed mid-analysis: heartbeats fail for a moment, the
    pool reconnects, and the same attempt completes (PostgreSQL only: SQLite has no server)."""
    import sqlalchemy as sa

    from tests.fixtures_db import _empty_pg

    _empty_pg(pg_database_url)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=pg_database_url, lease_seconds=5.0,
        heartbeat_seconds=0.5, reaper_interval_seconds=0.5, allowed_roots=str(media_dir),
        poll_seconds=0.1,
    )  # fmt: skip
    store = SqlJobStore(pg_database_url, settings)
    org = store.ensure_org()
    job = submit(store, org, long_clip)
    worker = Worker(store, settings)
    worker.start()
    try:
        wait_for("analysis", _analysing(store, org, job.id))
        with store.engine.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
        assert killed
        wait_for("completion", lambda: store.get(org, job.id).terminal, timeout=60)
    finally:
        worker.stop(grace=0)
    done = store.get(org, job.id)
    assert done.state is JobState.COMPLETED and done.attempt == 1, done.error_message
    store.close()
