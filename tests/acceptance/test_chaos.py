"""Chaos acceptance: real `kickflow worker` processes on real media, on SQLite and PostgreSQL.

Workers are SIGKILLed mid-analysis, one FFmpeg is SIGSTOPped (the watchdog must kill it), one
worker is frozen past its lease and thawed (its late writes must be fenced). Afterwards every
job must be completed or failed with a reason, none stranded, none with two accepted results.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from kickflow.config import Settings
from kickflow.jobs import Job, JobState, JobStore
from kickflow.jobs.schema import workers
from tests.fixtures_db import sqlite_writable
from tests.fixtures_media import MediaFactory
from tests.fixtures_server import start_server

pytestmark = pytest.mark.slow

JOBS = 28  # enough that jobs are still queued when the last SIGKILL comes
WORKERS = 3
SIGKILLS = 3
CLIP_ARGS = [
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi",
    "-i", "sine=f=1000:sample_rate=48000", "-t", "40", "-c:v", "libx264",
    "-preset", "ultrafast", "-c:a", "aac",
]  # fmt: skip
TIMINGS = {
    "KICKFLOW_LEASE_SECONDS": "6",  # longer than stall + kill grace: the watchdog acts first
    "KICKFLOW_HEARTBEAT_SECONDS": "0.5",
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "0.5",
    "KICKFLOW_STUCK_AFTER_SECONDS": "15",
    "KICKFLOW_FFMPEG_STALL_SECONDS": "2",
    "KICKFLOW_FFMPEG_KILL_GRACE_SECONDS": "1",
    "KICKFLOW_RETRY_BASE_SECONDS": "0.2",
    "KICKFLOW_RETRY_MAX_SECONDS": "1",
    "KICKFLOW_MAX_ATTEMPTS": "8",
    "KICKFLOW_POLL_SECONDS": "0.2",
    "KICKFLOW_SHUTDOWN_GRACE_SECONDS": "3",
}


def wait_for(what: str, predicate: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


@dataclass
class Fleet:
    """The worker processes this test started (it only ever signals these)."""

    env: dict[str, str]
    logs: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self) -> None:
        log = (self.logs / f"worker-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "kickflow", "worker", "--concurrency", "2"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[proc.pid] = proc

    def alive(self) -> list[int]:
        return [pid for pid, p in self.procs.items() if p.poll() is None]

    def kill(self, pid: int) -> None:
        assert pid in self.procs
        os.kill(pid, signal.SIGKILL)
        self.procs[pid].wait(timeout=10)


def ffmpeg_children(parent: int, job_id: str) -> list[int]:
    """Running FFmpeg processes of worker ``parent`` working on ``job_id``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        mine = b"ffmpeg" in cmd and job_id.encode() in cmd and int(fields[1]) == parent
        if mine and fields[0] not in {"Z", "T"}:
            pids.append(int(entry.name))
    return pids


def process_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def worker_pids(store: JobStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {r.id: r.pid for r in conn.execute(sa.select(workers.c.id, workers.c.pid))}


def analysing_target(store: JobStore, fleet: Fleet, skip: set[str]) -> tuple[Job, int] | None:
    """A job mid-analysis on one of our live workers, and that worker's pid."""
    pids = worker_pids(store)
    for job in store.list_jobs(None, state="running", limit=100).jobs:
        pid = pids.get(job.worker_id or "")
        if (
            job.id not in skip
            and job.phase == "analyzing"
            and 45 < job.progress < 85
            and pid in fleet.alive()
        ):
            return job, pid  # type: ignore[return-value]
    return None


def analysing_ffmpeg(store: JobStore, fleet: Fleet, skip: set[str]) -> tuple[Job, int, int] | None:
    """A job mid-analysis, its worker's pid and its running FFmpeg, looked up together: on a
    loaded machine the stored progress lags, and the FFmpeg of the job picked may be gone."""
    found = analysing_target(store, fleet, skip)
    if found is None:
        return None
    job, pid = found
    running = ffmpeg_children(pid, job.id)
    return (job, pid, running[0]) if running else None


def event_codes(store: JobStore, job_id: str) -> list[tuple[str, str | None, str | None]]:
    return [(e.kind, e.code, e.worker_id) for e in store.events(job_id)]


def freeze_a_worker(store: JobStore, fleet: Fleet, skip: set[str]) -> tuple[Job, int]:
    """SIGSTOP a worker that is mid-analysis. On SQLite a process frozen inside a write
    transaction (or holding the writer queue) would block every writer (a documented SQLite
    limit), so that draw is thawed at once and another one is made."""
    for _ in range(10):
        job, pid = wait_for("a job mid-analysis", lambda: analysing_target(store, fleet, skip))  # type: ignore[misc]
        os.kill(pid, signal.SIGSTOP)
        if store.url.startswith("sqlite") and not sqlite_writable(store.url):
            os.kill(pid, signal.SIGCONT)
            continue
        # On a loaded machine the stored progress lags: the worker may have finished the job
        # just before it was stopped, and then there is nothing for the reaper to do.
        now = store.get(job.org_id, job.id)
        if now.state is JobState.RUNNING and now.worker_id == job.worker_id:
            return job, pid
        os.kill(pid, signal.SIGCONT)
    raise AssertionError("no worker could be frozen mid-job (SQLite write lock or job done)")


@pytest.fixture
def fleet(store: JobStore, job_settings: Settings, tmp_path: Path) -> Iterator[Fleet]:
    env = {
        **os.environ,
        "KICKFLOW_DATABASE_URL": store.url,
        "KICKFLOW_DATA_DIR": str(job_settings.data_dir),
        "KICKFLOW_ALLOWED_ROOTS": job_settings.allowed_roots,
        **TIMINGS,
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    service = None
    if store.url.startswith("sqlite"):
        # On SQLite workers are clients of the service (a direct worker is refused): the
        # fleet talks to a real `kickflow serve --workers 0` on the same database.
        service = start_server(
            tmp_path / "service", store.url, env={**TIMINGS,
            "KICKFLOW_ALLOWED_ROOTS": job_settings.allowed_roots},
        )  # fmt: skip
        del env["KICKFLOW_DATABASE_URL"]
        env["KICKFLOW_SERVER_URL"] = service.url
        env["KICKFLOW_WORKER_TOKEN"] = service.token_for("local", "worker")
    fleet = Fleet(env, logs)
    try:
        yield fleet
    finally:
        for pid in fleet.alive():
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
            fleet.procs[pid].wait()
        if service is not None:
            service.stop()


def test_chaos_every_job_ends_with_one_accepted_result(
    store: JobStore, fleet: Fleet, make_media: MediaFactory
) -> None:
    clip = make_media("chaos-320x240-40s.mp4", CLIP_ARGS)
    org = store.ensure_org()
    ids = [
        store.enqueue(org, "path", str(clip), file_name=f"ep{i:02d}.mp4").id for i in range(JOBS)
    ]
    for _ in range(WORKERS):
        fleet.spawn()
    touched: set[str] = set()

    # 1. SIGSTOP one running FFmpeg: the engine's watchdog kills it, the attempt is retried.
    job, _, ff = wait_for(  # type: ignore[misc]
        "a job mid-analysis with its FFmpeg",
        lambda: analysing_ffmpeg(store, fleet, touched),
        timeout=90,  # the fleet's first jobs start slowly on a loaded machine
    )
    os.kill(ff, signal.SIGSTOP)
    touched.add(job.id)
    wait_for("the watchdog to kill FFmpeg", lambda: not process_alive(ff), timeout=60)
    wait_for(
        "the stall to be recorded",
        lambda: any(c == "ffmpeg_stalled" for _, c, _ in event_codes(store, job.id)),
    )
    stalled_job = job.id

    # 2. Freeze a whole worker past its lease, then thaw it: it is a zombie, fenced off.
    job, pid = freeze_a_worker(store, fleet, touched)
    zombie = job.worker_id
    touched.add(job.id)
    wait_for("the reaper", lambda: "reaped" in [k for k, _, _ in event_codes(store, job.id)], 90)
    os.kill(pid, signal.SIGCONT)
    zombie_job = job.id

    # 3. SIGKILL workers in the middle of analysis; replacements join.
    killed: list[str] = []
    for _ in range(SIGKILLS):
        job, pid = wait_for("a job mid-analysis", lambda: analysing_target(store, fleet, touched))  # type: ignore[misc]
        fleet.kill(pid)
        touched.add(job.id)
        killed.append(job.id)
        fleet.spawn()

    wait_for("every job to end", lambda: all(store.get(org, i).terminal for i in ids), 150)
    for pid in fleet.alive():
        os.kill(pid, signal.SIGTERM)
    exit_codes = [fleet.procs[pid].wait(timeout=30) for pid in fleet.alive()]

    jobs = [store.get(org, i) for i in ids]
    assert Counter(j.state for j in jobs)[JobState.RUNNING] == 0
    for j in jobs:
        assert j.state in {JobState.COMPLETED, JobState.FAILED}
        if j.state is JobState.FAILED:
            assert j.error_code and j.error_message
        accepted = [e for e in store.events(j.id) if e.kind == "completed"]
        assert len(accepted) == (1 if j.state is JobState.COMPLETED else 0)
    assert sum(j.state is JobState.COMPLETED for j in jobs) == JOBS
    for job_id in killed:
        assert ("reaped", "lease_expired") in [(k, c) for k, c, _ in event_codes(store, job_id)]
    assert ("fenced", "lease_lost", zombie) in event_codes(store, zombie_job) or any(
        w == zombie and k == "fenced" for i in ids for k, _, w in event_codes(store, i)
    )
    assert any(c == "ffmpeg_stalled" for _, c, _ in event_codes(store, stalled_job))
    assert all(code == 0 for code in exit_codes)
    assert store.counts(org)["stuck"] == 0
