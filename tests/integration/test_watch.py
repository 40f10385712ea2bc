"""Watch folders against the real store (SQLite and PostgreSQL), a real worker, the real CLI
and a real ``kickflow serve``: a file written slowly is submitted once, after it is complete;
subtitle files go with their media; a restart posts nothing again; results land in
``passed/``/``needs_review/``/``failed/`` once the jobs have ended.

Media comes from ``tests/fixtures_media.py`` (a 3-second clip). Every wait is on a condition.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.jobs import Job, JobStore
from kickflow.watch import STATE_FILE, StoreSubmitter, Watcher, WatchOptions
from kickflow.worker import Worker
from tests.fixtures_server import start_server, wait_for

SRT = "1\n00:00:00,500 --> 00:00:02,000\nHello there.\n\n"
INTERVAL = 0.1
LONG = 180.0  # two shared cores: generous


@pytest.fixture
def hot(job_settings: Settings) -> Path:
    folder = Path(job_settings.allowed_roots.split(os.pathsep)[0]) / "hot"
    folder.mkdir()
    return folder


class Running:
    """A watcher polling in a thread until stopped."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.stop = threading.Event()
        self.lines: list[str] = []
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.watcher.run(self.stop)
        except BaseException as exc:  # shown by the test, not lost in a thread
            self.failure = exc

    def end(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert self.failure is None, self.failure


@pytest.fixture
def watch(store: JobStore, hot: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(settle: float = 1.0, results: str = "move") -> Running:
        org_id = store.ensure_org("local")
        options = WatchOptions(hot, results=results, settle_seconds=settle, interval=INTERVAL)
        lines: list[str] = []
        watcher = Watcher(options, StoreSubmitter(store, org_id, store.settings), lines.append)
        running = Running(watcher)
        running.lines = lines
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop.set()
        running.thread.join(timeout=30)


def jobs(store: JobStore) -> list[Job]:
    return store.list_jobs(store.ensure_org("local"), limit=200).jobs


def test_a_file_written_slowly_is_submitted_once_after_it_is_complete(
    store: JobStore, hot: Path, short_clip: Path, watch: Callable[..., Running]
) -> None:
    data = short_clip.read_bytes()
    chunks = [data[i : i + len(data) // 6 + 1] for i in range(0, len(data), len(data) // 6 + 1)]
    # Pauses longer than the poll interval, much shorter than the settle time.
    running = watch(settle=4.0, results="none")
    early: list[Job] = []
    with (hot / "EP01.mov").open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
            out.flush()
            time.sleep(0.3)
            early.extend(jobs(store))
    assert early == [], "nothing is submitted while the file is still growing"
    (job,) = wait_for(lambda: jobs(store), LONG, "the job")
    assert job.file_size == len(data) == (hot / "EP01.mov").stat().st_size
    wait_for((hot / STATE_FILE).exists, LONG, "the state file")
    polls = _polls_after(running, 10)
    assert polls and len(jobs(store)) == 1
    running.end()


def _polls_after(running: Running, count: int) -> bool:
    """Wait until the watcher has polled ``count`` more times."""
    done = threading.Event()
    seen = [0]
    original = running.watcher.poll

    def counted() -> None:
        original()
        seen[0] += 1
        if seen[0] >= count:
            done.set()

    running.watcher.poll = counted  # type: ignore[method-assign]
    return done.wait(LONG)


def test_two_files_one_with_subtitles_end_in_their_result_folders(
    store: JobStore,
    hot: Path,
    short_clip: Path,
    watch: Callable[..., Running],
    run_worker: Callable[..., Worker],
) -> None:
    shutil.copyfile(short_clip, hot / "EP01.mov")
    (hot / "EP01.en.srt").write_text(SRT, encoding="utf-8")
    (hot / "EP02.mov").write_bytes(b"this is not a movie at all " * 100)
    run_worker()
    running = watch()
    found = wait_for(lambda: len(jobs(store)) == 2 and jobs(store), LONG, "two jobs")
    by_name = {j.file_name: j for j in found}
    assert [s.name for s in by_name["EP01.mov"].inputs.subtitles] == ["EP01.en.srt"]
    assert by_name["EP02.mov"].inputs.subtitles == ()
    wait_for(lambda: not (hot / "EP01.mov").exists(), LONG, "EP01.mov moved")
    wait_for(lambda: not (hot / "EP02.mov").exists(), LONG, "EP02.mov moved")
    first = store.get(None, by_name["EP01.mov"].id)
    second = store.get(None, by_name["EP02.mov"].id)
    assert first.state.value == "completed"
    folder = first.verdict if first.verdict in ("passed", "needs_review") else "failed"
    assert (hot / folder / "EP01.mov").read_bytes() == short_clip.read_bytes()
    assert (hot / folder / "EP01.en.srt").read_text(encoding="utf-8") == SRT
    assert second.state.value == "failed"
    assert (hot / "failed" / "EP02.mov").exists()
    running.end()
    assert len(jobs(store)) == 2


def test_a_restart_does_not_submit_again(
    store: JobStore, hot: Path, short_clip: Path, watch: Callable[..., Running]
) -> None:
    shutil.copyfile(short_clip, hot / "EP01.mov")
    first = watch(settle=0.3, results="none")
    (job,) = wait_for(lambda: jobs(store), LONG, "the job")
    first.end()
    second = watch(settle=0.3, results="none")
    assert _polls_after(second, 10)
    second.end()
    assert [j.id for j in jobs(store)] == [job.id]
    assert second.lines == []
    state = json.loads((hot / STATE_FILE).read_text())
    assert state["files"]["EP01.mov"]["job_id"] == job.id


def test_hidden_and_partial_files_are_ignored(
    store: JobStore, hot: Path, short_clip: Path, watch: Callable[..., Running]
) -> None:
    for name in (".EP01.mov", "EP02.mov.part", "EP03.mov.crdownload", "~$EP04.mov", "EP05.tmp"):
        shutil.copyfile(short_clip, hot / name)
    running = watch(settle=0.3, results="none")
    assert _polls_after(running, 15)
    running.end()
    assert jobs(store) == []
    shutil.move(hot / "EP02.mov.part", hot / "EP02.mov")  # the download finished
    running = watch(settle=0.3, results="none")
    (job,) = wait_for(lambda: jobs(store), LONG, "the finished download's job")
    assert job.file_name == "EP02.mov"
    running.end()


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def cli_env(job_settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KICKFLOW_")}
    return env | {
        "KICKFLOW_DATABASE_URL": job_settings.database_url,
        "KICKFLOW_DATA_DIR": str(job_settings.data_dir),
        "KICKFLOW_ALLOWED_ROOTS": job_settings.allowed_roots,
        "PYTHONUNBUFFERED": "1",
    }


def kickflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kickflow", *args],
        env=env, capture_output=True, text=True, timeout=LONG, check=False,
    )  # fmt: skip


def test_once_submits_waits_for_the_job_and_writes_the_sidecar(
    store: JobStore,
    hot: Path,
    short_clip: Path,
    cli_env: dict[str, str],
    run_worker: Callable[..., Worker],
) -> None:
    shutil.copyfile(short_clip, hot / "EP01.mov")
    run_worker()
    done = kickflow(
        cli_env, "watch", str(hot), "--once", "--results", "sidecar",
        "--settle-seconds", "0.3", "--interval", "0.1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (job,) = jobs(store)
    assert f"EP01.mov: submitted as job {job.id}" in done.stdout
    written = json.loads((hot / "EP01.mov.kickflow.json").read_text())
    assert (written["jobId"], written["state"]) == (job.id, "completed")
    assert written["verdict"] == store.get(None, job.id).verdict
    assert isinstance(written["findings"], int)
    assert (hot / "EP01.mov").exists()


def test_bad_folders_are_one_sentence_and_exit_2(
    tmp_path: Path, cli_env: dict[str, str], hot: Path
) -> None:
    missing = kickflow(cli_env, "watch", str(tmp_path / "nope"), "--once")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == f"kickflow: watch folder {tmp_path / 'nope'} does not exist\n"
    outside = tmp_path / "vendor"
    outside.mkdir()
    refused = kickflow(cli_env, "watch", str(outside), "--once")
    assert refused.returncode == 2
    assert "outside KICKFLOW_ALLOWED_ROOTS" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_sigterm_stops_the_command_cleanly(
    store: JobStore, hot: Path, short_clip: Path, cli_env: dict[str, str]
) -> None:
    shutil.copyfile(short_clip, hot / "EP01.mov")
    process = subprocess.Popen(
        [sys.executable, "-m", "kickflow", "watch", str(hot), "--settle-seconds", "0.3",
         "--interval", "0.1"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: jobs(store), LONG, "the job")
        wait_for((hot / STATE_FILE).exists, LONG, "the state file")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped")
    assert "Traceback" not in err


# --- the service --------------------------------------------------------------------------------


def test_the_service_watches_its_folders(tmp_path: Path, short_clip: Path) -> None:
    hot = tmp_path / "media" / "hot"
    hot.mkdir(parents=True)
    env = {
        "KICKFLOW_WATCH_DIRS": str(hot),
        "KICKFLOW_WATCH_SETTLE_SECONDS": "0.3",
        "KICKFLOW_WATCH_INTERVAL_SECONDS": "0.1",
        "KICKFLOW_WATCH_PROJECT": "Series 1",
        "KICKFLOW_WATCH_RESULTS": "none",
    }
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'kickflow.db'}", env=env)
    try:
        shutil.copyfile(short_clip, hot / "EP01.mov")
        with server.client() as client:

            def listed() -> list[dict[str, object]]:
                body: list[dict[str, object]] = client.get("/api/qc/jobs").json()["jobs"]
                return body

            (job,) = wait_for(listed, LONG, "the watched file's job")
            detail = client.get(f"/api/qc/jobs/{job['id']}").json()
        assert (detail["fileName"], detail["project"]) == ("EP01.mov", "Series 1")
        assert detail["source"] == {"type": "path", "path": str(hot / "EP01.mov")}
        assert detail["fileSize"] == short_clip.stat().st_size
    finally:
        assert server.stop() == 0
