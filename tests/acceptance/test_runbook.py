# ruff: noqa: E501 - the CHECKS keys are the runbook commands, verbatim
"""Every command in the runbooks' ```bash blocks runs against a real `kickflow serve` and does
what the text around it says.

The base URL, token and data directory of the ``export`` lines are substituted with the test
server's. Each command has an entry in ``CHECKS``: the situation it is meant for (a stuck job,
a failed job, a paused queue, a healthy service …), which the test creates for real — a stuck
job is a job whose worker process was frozen with SIGSTOP — and a check of the output and of
the service's state afterwards. A new runbook command without a check fails the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.jobs import JobStore, SqlJobStore
from tests.fixtures_db import sqlite_writable
from tests.fixtures_media import H264_AAC, MediaFactory
from tests.fixtures_server import Server, start_server, wait_for
from tests.integration.test_db_lock import LockHolder, process_state

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
EXPORT = re.compile(r"^export (KICKFLOW_URL|KICKFLOW_TOKEN|KICKFLOW_DATA_DIR)=(\S+)$")
LONG_CLIP = [
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:d=300",
    "-f", "lavfi", "-i", "sine=f=1000:d=300", *H264_AAC,
]  # fmt: skip
# The reaper must not recover the stuck jobs the runbook commands are run against.
RUNBOOK_TIMINGS = {
    "KICKFLOW_LEASE_SECONDS": "4",
    "KICKFLOW_HEARTBEAT_SECONDS": "0.5",
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "86400",
    "KICKFLOW_STUCK_AFTER_SECONDS": "60",
}


@dataclass(frozen=True)
class Command:
    where: str
    text: str


def extract(path: Path) -> list[Command]:
    """The commands of the ```bash blocks (continuation lines joined, comments skipped)."""
    out, inside, pending = [], False, ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if line.startswith("```"):
            inside = line == "```bash" and not inside
            continue
        if not inside or (not pending and (not line or line.startswith("#"))):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(Command(f"{path.name}:{number}", pending + line))
        pending = ""
    return out


ALL = [c for path in RUNBOOKS for c in extract(path)]


# --- the scenario: a real service with two embedded worker slots ---------------------------


@dataclass
class Scenario:
    server: Server
    api: httpx.Client
    long_clip: Path
    bad_file: Path
    store: JobStore
    frozen: set[int] = field(default_factory=set)
    env: dict[str, str] = field(default_factory=dict)

    def submit(self, path: Path) -> str:
        reply = self.api.post("/api/qc/jobs", json={"source": {"type": "path", "path": str(path)}})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/api/qc/jobs/{job_id}").json())

    def debug(self) -> dict[str, Any]:
        return dict(self.api.get("/api/qc/debug").json())

    def health(self) -> dict[str, Any]:
        return dict(self.api.get("/api/health/full").json())

    def jobs(self, state: str) -> list[dict[str, Any]]:
        return list(
            self.api.get("/api/qc/jobs", params={"state": state, "limit": 200}).json()["jobs"]
        )

    def live_slots(self) -> list[dict[str, Any]]:
        return [w for w in self.debug()["workers"] if w["pid"] not in self.frozen]

    # situations ----------------------------------------------------------------------------

    def quiet(self) -> None:
        """No frozen slot, queue not paused, nothing running or queued, two live slots."""
        self.store.resume_queue()
        for pid in self.frozen:
            _kill(pid, signal.SIGKILL)
        self.api.post("/api/qc/cancel", json={"all": True})

        def settled() -> bool:
            self.api.post("/api/qc/debug", json={"action": "cancel_stuck"})
            self.api.post("/api/qc/cancel", json={"all": True})
            counts = self.debug()["counts"]
            return counts["running"] + counts["queued"] == 0 and len(self.live_slots()) >= 2

        wait_for(settled, 60, "a quiet service with two live slots", interval=0.3)

    def stuck(self) -> str:
        """A running job whose worker is frozen (lease expired): stuck, not recovered."""
        current = self.debug()["stuckJobs"]
        if current:
            return str(current[0]["id"])
        self.quiet()
        job_id = self.submit(self.long_clip)
        running = wait_for(
            lambda: (j := self.job(job_id))["state"] == "running" and j["workerId"] and j,
            30,
            "the long job to run",
            interval=0.02,
        )
        pid = next(w["pid"] for w in self.debug()["workers"] if w["id"] == running["workerId"])
        self.freeze(pid)
        wait_for(lambda: self.debug()["stuckJobs"], 15, "the job to be stuck", interval=0.2)
        return job_id

    def freeze(self, pid: int) -> None:
        """SIGSTOP a slot. On SQLite a slot frozen while it holds the write lock blocks every
        writer (the documented limit of direct-database slots), so such a draw is thawed at
        once and made again."""
        for _ in range(20):
            os.kill(pid, signal.SIGSTOP)
            if sqlite_writable(self.store.url):
                self.frozen.add(pid)
                return
            os.kill(pid, signal.SIGCONT)
        raise AssertionError("the slot held the SQLite write lock at every draw")

    def failed(self) -> str:
        """A job that failed permanently (not a media file): the newest failed job."""
        failed = self.jobs("failed")
        if failed:
            return str(failed[0]["id"])
        if self.frozen or self.debug()["counts"]["running"]:
            self.quiet()
        job_id = self.submit(self.bad_file)
        wait_for(lambda: self.job(job_id)["state"] == "failed", 60, "the bad file to fail")
        return job_id

    def healthy(self) -> None:
        self.quiet()
        wait_for(lambda: self.health()["status"] == "ok", 30, "health ok")


def _kill(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory, make_media: MediaFactory
) -> Iterator[Scenario]:
    base = tmp_path_factory.mktemp("runbook")
    server = start_server(base, f"sqlite:///{base / 'kickflow.db'}", workers=2, env=RUNBOOK_TIMINGS)
    long_clip = Path(shutil.copy(make_media("long-300s.mp4", LONG_CLIP), server.media_root))
    bad_file = server.media_root / "vendor-notes.mov"
    bad_file.write_text("this is a text file, not a movie\n")
    work = base / "shell"
    work.mkdir()
    env = {
        **server.env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "KICKFLOW_URL": server.url,
        "KICKFLOW_TOKEN": server.token,
        "KICKFLOW_WORKER_TOKEN": server.token_for("local", "worker"),
        "HOME": str(work),
    }
    with server.client() as api:
        s = Scenario(server, api, long_clip, bad_file, SqlJobStore(server.db_url), env=env)
        try:
            yield s
        finally:
            s.store.close()
            drop_lock_holders()
            for pid in s.frozen:
                _kill(pid, signal.SIGKILL)
            server.stop()


# --- checks ---------------------------------------------------------------------------------


@dataclass
class Run:
    command: Command
    returncode: int
    stdout: str
    stderr: str
    job_id: str = ""

    def json(self) -> Any:
        return json.loads(self.stdout)

    def lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]


Setup = Callable[[Scenario], dict[str, str]]
Verify = Callable[[Scenario, Run], None]


@dataclass(frozen=True)
class Check:
    setup: Setup
    verify: Verify
    background: bool = False
    ok_codes: tuple[int, ...] = (0,)


def anything(_: Scenario) -> dict[str, str]:
    return {}


def stuck(s: Scenario) -> dict[str, str]:
    return {"JOB_ID": s.stuck()}


def failed(s: Scenario) -> dict[str, str]:
    return {"JOB_ID": s.failed(), "ERROR_CODE": "not_media"}


def two_failed(s: Scenario) -> dict[str, str]:
    first = s.failed()
    if len(s.jobs("failed")) < 2:
        second = s.submit(s.bad_file)
        wait_for(lambda: s.job(second)["state"] == "failed", 60, "a second failed job")
    return {"JOB_ID": first, "ERROR_CODE": "not_media"}


def healthy(s: Scenario) -> dict[str, str]:
    s.healthy()
    return {}


def paused_with_a_queued_job(s: Scenario) -> dict[str, str]:
    s.quiet()
    s.store.pause_queue()
    return {"JOB_ID": s.submit(s.bad_file)}


# checks of what each command's text promises


def health_shows_stuck(s: Scenario, r: Run) -> None:
    out = r.json()
    assert out["status"] == "error"
    assert out["qc_worker"]["status"] == "error"
    assert out["qc_worker"]["details"]["stuck"] >= 1
    assert out["qc_worker"]["details"]["workers"] >= 1
    assert out["reaper"]["status"] in {"ok", "warning"}


def status_and_stuck_count(s: Scenario, r: Run) -> None:
    assert r.lines()[0] == "error" and int(r.lines()[1]) >= 1


def stuck_jobs_listed(s: Scenario, r: Run) -> None:
    jobs = r.json()
    assert [j["id"] for j in jobs] == [r.job_id]
    for key in ("fileName", "phase", "progress", "attempt", "lastHeartbeatAt", "lastError"):
        assert key in jobs[0]
    assert jobs[0]["status"] == "running" and jobs[0]["lastHeartbeatAt"]


def exported_stuck_id(s: Scenario, r: Run) -> None:
    assert r.stdout.strip() == r.job_id


def exported_failed_id(s: Scenario, r: Run) -> None:
    assert r.stdout.strip() == s.jobs("failed")[0]["id"]


def debug_overview(s: Scenario, r: Run) -> None:
    out = r.json()
    assert out["counts"]["stuck"] >= 1 and out["counts"]["running"] >= 1
    assert isinstance(out["recentErrors"], list) and len(out["recentErrors"]) <= 5
    assert out["workers"] and all("pid" in w for w in out["workers"])


def job_story(s: Scenario, r: Run) -> None:
    out = r.json()
    assert out["state"] == "running"
    assert [e["kind"] for e in out["history"]][:2] == ["enqueued", "claimed"]


def cli_job_story(s: Scenario, r: Run) -> None:
    assert r.job_id in r.stdout and "history" in r.stdout and "claimed" in r.stdout


def worker_log_lines(s: Scenario, r: Run) -> None:
    assert r.lines() and all("[QCWorker]" in line for line in r.lines())
    assert any("action=claimed" in line for line in r.lines())


def reaper_failures_only(s: Scenario, r: Run) -> None:
    assert r.returncode in {0, 1}  # grep: 1 = no reaper failure logged
    assert all("Stuck job check failed" in line for line in r.lines())


def reaper_failures_or_none(s: Scenario, r: Run) -> None:
    assert r.lines() == ["no reaper failures logged"] or all(
        "Stuck job check failed" in line for line in r.lines()
    )


def stuck_metrics(s: Scenario, r: Run) -> None:
    samples = _samples(r.stdout)
    assert samples["kickflow_jobs_stuck"] >= 1
    assert samples["kickflow_workers_alive"] >= 1
    assert samples["kickflow_reaper_last_run_timestamp_seconds"] > 0


def _samples(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()}


def component_status(name: str, expected: str) -> Verify:
    def verify(s: Scenario, r: Run) -> None:
        assert r.json()["status"] == expected, r.stdout

    verify.__name__ = f"{name}_is_{expected}"
    return verify


def no_memory_failures(s: Scenario, r: Run) -> None:
    assert r.lines() == []  # nothing failed on memory here; the filter itself must work
    assert r.returncode == 0


def ffmpeg_processes(s: Scenario, r: Run) -> None:
    assert r.lines() == ["no FFmpeg running"] or all("ffmpeg" in line for line in r.lines())


def ffmpeg_kills(s: Scenario, r: Run) -> None:
    assert r.lines() == ["no FFmpeg kills"] or all(
        line.startswith("kickflow_ffmpeg_kills_total") for line in r.lines()
    )


def db_current(s: Scenario, r: Run) -> None:
    assert r.stdout.strip(), r.stderr


# A helper process frozen while it holds the SQLite write lock (tests/integration/test_db_lock.py).
LOCK_HOLDERS: list[LockHolder] = []


def drop_lock_holders() -> None:
    while LOCK_HOLDERS:
        LOCK_HOLDERS.pop().close()  # SIGKILL: the kernel frees its lock


def lock_held(s: Scenario) -> dict[str, str]:
    drop_lock_holders()
    holder = LockHolder(s.store.url)
    LOCK_HOLDERS.append(holder)
    holder.freeze()
    wait_for(lambda: s.health()["database"]["status"] != "ok", 30, "health to name the holder")
    return {"HOLDER_PID": str(holder.pid)}


def with_lock_holder(check: Callable[[Scenario, Run, LockHolder], None]) -> Verify:
    def verify(s: Scenario, r: Run) -> None:
        try:
            check(s, r, LOCK_HOLDERS[-1])
        finally:
            drop_lock_holders()
        s.store.resume_queue()  # a write, through the queue: the lock is free again

    verify.__name__ = check.__name__
    return verify


def holder_named(s: Scenario, r: Run, holder: LockHolder) -> None:
    status, message = r.lines()
    assert status in {"warning", "error"}
    assert f"held by pid {holder.pid} (kickflow worker), stopped, for " in message


def holder_pid_exported(s: Scenario, r: Run, holder: LockHolder) -> None:
    assert r.stdout.strip() == str(holder.pid)


def holder_shown_stopped(s: Scenario, r: Run, holder: LockHolder) -> None:
    row = r.lines()[1].split()
    assert row[0] == str(holder.pid) and row[1].startswith("T"), r.stdout


def holder_resumed(s: Scenario, r: Run, holder: LockHolder) -> None:
    wait_for(lambda: process_state(holder.pid) not in ("T", "t"), 10, "the holder to resume")
    holder.release()  # what the resumed process does: commit and let go
    assert not_held_by(s, holder)


def holder_killed(s: Scenario, r: Run, holder: LockHolder) -> None:
    assert holder.process.wait(timeout=10) == -signal.SIGKILL
    assert not_held_by(s, holder)


def not_held_by(s: Scenario, holder: LockHolder) -> bool:
    """The helper holds the lock no more (the service itself may hold it for a moment)."""
    now = s.store.write_lock_holder()
    return now is None or now.pid != holder.pid


def lock_freed(s: Scenario) -> dict[str, str]:
    """After the fix: no helper holds the lock (health snapshots are a moment old)."""
    drop_lock_holders()
    wait_for(lambda: s.health()["database"]["status"] == "ok", 10, "the database to be ok")
    return {}


def database_ok(s: Scenario, r: Run) -> None:
    assert r.lines() == ["ok"], s.health()["database"]


def trigger_restarts_the_frozen_slot(s: Scenario, r: Run) -> None:
    out = r.json()
    assert out["action"] == "trigger_worker" and out["embedded"] is True
    assert any("hung" in line for line in out["restarted"]), out
    assert len(out["woken"]) == 1  # the other, live slot; the replacement is still starting
    for pid in list(s.frozen):
        wait_for(_gone_check(pid), 10, f"frozen slot {pid} to be killed")
        s.frozen.discard(pid)
    wait_for(lambda: len(s.live_slots()) >= 2, 30, "the replacement slot")


def _gone_check(pid: int) -> Callable[[], bool]:
    return lambda: _gone(pid)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def requeued_and_completed(s: Scenario, r: Run) -> None:
    out = r.json()
    assert [j["id"] for j in out["jobs"]] == [r.job_id]
    assert out["jobs"][0]["state"] == "queued"
    done = wait_for(
        lambda: (j := s.job(r.job_id))["state"] in {"completed", "failed"} and j,
        90,
        "the re-queued job to be finished by a live worker",
    )
    assert done["state"] == "completed"


def cancelled_with_reason(s: Scenario, r: Run) -> None:
    out = r.json()
    assert [j["id"] for j in out["jobs"]] == [r.job_id]
    job = s.job(r.job_id)
    assert job["state"] == "cancelled"
    assert job["lastError"]["message"] == "stuck: cancelled by an operator"


def reprocessed_exactly(s: Scenario, r: Run) -> None:
    out = r.json()
    assert [j["id"] for j in out["jobs"]] == [r.job_id] and out["refused"] == []
    assert s.job(r.job_id)["history"][-1]["kind"] in {"requeued", "claimed", "failed"}
    others = [j["id"] for j in s.jobs("failed")]
    assert r.job_id not in others or s.job(r.job_id)["attempt"] >= 1


def reprocessed_short(s: Scenario, r: Run) -> None:
    out = r.json()
    assert out["requeued"] == [r.job_id] and out["refused"] == []


def cli_requeued_stuck(s: Scenario, r: Run) -> None:
    assert r.job_id in r.stdout, r.stdout + r.stderr
    job = s.job(r.job_id)
    assert job["state"] != "running" or job["attempt"] >= 2
    assert any(e["kind"] == "requeued" for e in job["history"])


def cli_cancelled_stuck(s: Scenario, r: Run) -> None:
    assert r.job_id in r.stdout, r.stdout + r.stderr
    assert s.job(r.job_id)["state"] == "cancelled"


def all_ok(s: Scenario, r: Run) -> None:
    assert r.lines() == ["ok", "ok", "0"]


def reaper_ok(s: Scenario, r: Run) -> None:
    out = r.json()
    assert out["status"] == "ok"
    assert out["details"]["last_run_age_seconds"] is not None


def snapshot_saved(s: Scenario, r: Run) -> None:
    name = r.lines()[-1]
    saved = json.loads((Path(s.env["HOME"]) / name).read_text())
    assert {"counts", "stuckJobs", "recentErrors"} <= set(saved)


def queue_details(s: Scenario, r: Run) -> None:
    keys = {"queued", "running", "stuck", "workers", "worker_slots"}
    assert keys | {"oldest_queued_age_seconds", "queue_paused"} == set(r.json())


def queue_metrics(s: Scenario, r: Run) -> None:
    samples = _samples(r.stdout)
    assert "kickflow_queue_oldest_age_seconds" in samples
    assert 'kickflow_jobs{state="queued"}' in samples
    assert samples["kickflow_workers_alive"] >= 1


def cli_lists_the_queued_job(s: Scenario, r: Run) -> None:
    assert r.job_id in r.stdout and "queued" in r.stdout


def resumed(s: Scenario, r: Run) -> None:
    assert s.health()["qc_worker"]["details"]["queue_paused"] is False
    wait_for(lambda: s.job(r.job_id)["state"] != "queued", 30, "the queued job to be claimed")


def trigger_summary(s: Scenario, r: Run) -> None:
    out = r.json()
    assert set(out) == {"restarted", "message"} and isinstance(out["restarted"], list)


def extra_worker(concurrency: int) -> Verify:
    def verify(s: Scenario, r: Run) -> None:
        assert r.returncode == 0, r.stderr  # stopped with SIGTERM: graceful, exit 0

    verify.__name__ = f"worker_with_{concurrency}_slots"
    return verify


def failed_codes_counted(s: Scenario, r: Run) -> None:
    count, code = r.lines()[0].split()
    assert code == "not_media" and int(count) == len(s.jobs("failed"))


def recent_errors(s: Scenario, r: Run) -> None:
    rows = [json.loads(line) for line in r.lines()]
    assert rows and any(row["code"] == "not_media" for row in rows)
    assert all(set(row) == {"jobId", "kind", "code", "message"} for row in rows)


def requeued_by_code(s: Scenario, r: Run) -> None:
    out = r.json()
    assert len(out["requeued"]) >= 2 and r.job_id in out["requeued"]
    assert out["refused"] == []
    for job_id in out["requeued"]:
        assert any(e["kind"] == "requeued" for e in s.job(job_id)["history"])


def worker_summary(s: Scenario, r: Run) -> None:
    out = r.json()
    assert out["status"] in {"ok", "warning"} and out["workers"] >= 1 and "queued" in out


def workers_listed(s: Scenario, r: Run) -> None:
    workers = r.json()
    assert len(workers) >= 2 and all({"id", "pid", "hostname"} <= set(w) for w in workers)


def worker_lifecycle_lines(s: Scenario, r: Run) -> None:
    assert r.lines() and any("action=worker_started" in line for line in r.lines())


def worker_count(s: Scenario, r: Run) -> None:
    assert int(r.stdout.strip()) >= 2


def reaper_timestamp(s: Scenario, r: Run) -> None:
    value = _samples(r.stdout)["kickflow_reaper_last_run_timestamp_seconds"]
    assert time.time() - 86400 < value <= time.time() + 5


def failed_count(s: Scenario, r: Run) -> None:
    assert int(r.stdout.strip()) == len(s.jobs("failed"))


def cli_lists_failed(s: Scenario, r: Run) -> None:
    assert r.job_id in r.stdout and "failed" in r.stdout


def cli_retried(s: Scenario, r: Run) -> None:
    assert r.returncode == 0, r.stderr
    assert any(e["kind"] == "requeued" for e in s.job(r.job_id)["history"])


def deleted(s: Scenario, r: Run) -> None:
    assert r.json() == {"id": r.job_id, "deleted": True, "state": "failed"}
    assert s.api.get(f"/api/qc/jobs/{r.job_id}").status_code == 404


CHECKS: dict[str, Check] = {
    # qc-stuck-jobs.md
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq '{status, qc_worker, reaper}'""": Check(
        stuck, health_shows_stuck
    ),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq -r '.qc_worker.status, .qc_worker.details.stuck'""": Check(
        stuck, status_and_stuck_count
    ),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/debug" | jq '.stuckJobs'""": Check(
        stuck, stuck_jobs_listed
    ),
    """export JOB_ID=$(curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/debug" | jq -r '.stuckJobs[0].id')""": Check(
        stuck, exported_stuck_id
    ),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/debug" | jq '{counts, recentErrors: .recentErrors[:5], workers}'""": Check(
        stuck, debug_overview
    ),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/jobs/$JOB_ID" | jq '{state, phase, progress, attempt, lastError, history}'""": Check(
        stuck, job_story
    ),
    """kickflow jobs show "$JOB_ID\"""": Check(stuck, cli_job_story),
    """grep -F '[QCWorker]' "$KICKFLOW_DATA_DIR/log/kickflow.log" | tail -n 50""": Check(
        anything, worker_log_lines
    ),
    """grep -F '[QCWorker] Stuck job check failed' "$KICKFLOW_DATA_DIR/log/kickflow.log" | tail -n 5""": Check(
        anything, reaper_failures_only, ok_codes=(0, 1)
    ),
    """curl -sS "$KICKFLOW_URL/metrics" | grep -E '^kickflow_(jobs_stuck|workers_alive|recoveries_total|reaper_last_run)'""": Check(
        stuck, stuck_metrics
    ),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq '.google_oauth'""": Check(
        anything, component_status("google_oauth", "not_configured")
    ),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/jobs?state=failed&limit=200" | jq -c '.jobs[] | select(.lastError.code == "memory_exceeded") | {id, fileName}'""": Check(
        failed, no_memory_failures
    ),
    """ps -eo pid,etimes,args | grep -F ffmpeg | grep -v grep || echo "no FFmpeg running\"""": Check(
        anything, ffmpeg_processes
    ),
    """curl -sS "$KICKFLOW_URL/metrics" | grep -E '^kickflow_ffmpeg_kills_total' || echo "no FFmpeg kills\"""": Check(
        anything, ffmpeg_kills
    ),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq '.database'""": Check(
        anything, component_status("database", "ok")
    ),
    "kickflow db current": Check(anything, db_current),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq -r '.database.status, .database.message'""": Check(
        lock_held, with_lock_holder(holder_named)
    ),
    """export HOLDER_PID=$(curl -sS "$KICKFLOW_URL/api/health/full" | jq -r '.database.details.lock_holder.pid')""": Check(
        lock_held, with_lock_holder(holder_pid_exported)
    ),
    'ps -o pid,stat,etimes,args -p "$HOLDER_PID"': Check(
        lock_held, with_lock_holder(holder_shown_stopped)
    ),
    'kill -CONT "$HOLDER_PID"': Check(lock_held, with_lock_holder(holder_resumed)),
    'kill -KILL "$HOLDER_PID"': Check(lock_held, with_lock_holder(holder_killed)),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq -r '.database.status'""": Check(
        lock_freed, database_ok
    ),
    """curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d '{"action": "trigger_worker"}' "$KICKFLOW_URL/api/qc/debug" | jq""": Check(
        stuck, trigger_restarts_the_frozen_slot
    ),
    """curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d '{"action": "retry_stuck"}' "$KICKFLOW_URL/api/qc/debug" | jq""": Check(
        stuck, requeued_and_completed
    ),
    """jq -n --arg id "$JOB_ID" '{action: "retry_specific", jobId: $id}' | curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d @- "$KICKFLOW_URL/api/qc/debug" | jq""": Check(
        stuck, requeued_and_completed
    ),
    """curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d '{"action": "cancel_stuck"}' "$KICKFLOW_URL/api/qc/debug" | jq""": Check(
        stuck, cancelled_with_reason
    ),
    """export JOB_ID=$(curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/jobs?state=failed&limit=1" | jq -r '.jobs[0].id')""": Check(
        failed, exported_failed_id
    ),
    """jq -n --arg id "$JOB_ID" '{jobIds: [$id]}' | curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d @- "$KICKFLOW_URL/api/qc/reprocess" | jq""": Check(
        failed, reprocessed_exactly
    ),
    "kickflow jobs retry-stuck": Check(stuck, cli_requeued_stuck),
    "kickflow jobs cancel-stuck": Check(stuck, cli_cancelled_stuck),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq -r '.status, .qc_worker.status, .qc_worker.details.stuck'""": Check(
        healthy, all_ok
    ),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq '.reaper'""": Check(anything, reaper_ok),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/debug" > "qc-debug-$(date -u +%Y%m%dT%H%M%SZ).json" && ls qc-debug-*.json""": Check(
        anything, snapshot_saved
    ),
    # qc-queue-backed-up.md
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq '.qc_worker.details | {queued, running, stuck, workers, worker_slots, oldest_queued_age_seconds, queue_paused}'""": Check(
        anything, queue_details
    ),
    """curl -sS "$KICKFLOW_URL/metrics" | grep -E '^kickflow_(queue_oldest_age_seconds|workers_alive|jobs\\{state="(queued|running)"\\})'""": Check(
        anything, queue_metrics
    ),
    "kickflow jobs list --state queued --limit 20": Check(
        paused_with_a_queued_job, cli_lists_the_queued_job
    ),
    "kickflow admin resume-queue": Check(paused_with_a_queued_job, resumed),
    """curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d '{"action": "trigger_worker"}' "$KICKFLOW_URL/api/qc/debug" | jq '{restarted, message}'""": Check(
        anything, trigger_summary
    ),
    'kickflow worker --server "$KICKFLOW_URL" --concurrency 2': Check(
        anything, extra_worker(2), background=True
    ),
    # qc-failure-rate-high.md
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/jobs?state=failed&limit=200" | jq -r '.jobs[].lastError.code' | sort | uniq -c | sort -rn""": Check(
        failed, failed_codes_counted
    ),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/debug" | jq -c '.recentErrors[:10][] | {jobId, kind, code, message}'""": Check(
        failed, recent_errors
    ),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/jobs?state=failed&limit=200" | jq --arg code "$ERROR_CODE" '{jobIds: [.jobs[] | select(.lastError.code == $code) | .id]}' | curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d @- "$KICKFLOW_URL/api/qc/reprocess" | jq '{requeued: [.jobs[].id], refused}'""": Check(
        two_failed, requeued_by_code
    ),
    # qc-no-live-workers.md
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq '.qc_worker | {status, message, workers: .details.workers, queued: .details.queued}'""": Check(
        anything, worker_summary
    ),
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/debug" | jq '.workers'""": Check(
        healthy, workers_listed
    ),
    """grep -E 'action=worker_(started|stopping|stopped)' "$KICKFLOW_DATA_DIR/log/kickflow.log" | tail -n 20""": Check(
        anything, worker_lifecycle_lines
    ),
    'kickflow worker --server "$KICKFLOW_URL" --concurrency 1': Check(
        anything, extra_worker(1), background=True
    ),
    """curl -sS "$KICKFLOW_URL/api/health/full" | jq '.qc_worker.details.workers'""": Check(
        healthy, worker_count
    ),
    # qc-reaper-not-running.md
    """curl -sS "$KICKFLOW_URL/metrics" | grep '^kickflow_reaper_last_run_timestamp_seconds'""": Check(
        anything, reaper_timestamp
    ),
    """grep -F '[QCWorker] Stuck job check failed' "$KICKFLOW_DATA_DIR/log/kickflow.log" | tail -n 5 || echo "no reaper failures logged\"""": Check(
        anything, reaper_failures_or_none
    ),
    # qc-dead-letter-growing.md
    """curl -sS -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/debug" | jq '.counts.failed'""": Check(
        failed, failed_count
    ),
    "kickflow jobs list --state failed --limit 20": Check(failed, cli_lists_failed),
    'kickflow jobs retry "$JOB_ID"': Check(failed, cli_retried),
    """jq -n --arg id "$JOB_ID" '{jobIds: [$id]}' | curl -sS -X POST -H "Authorization: Bearer $KICKFLOW_TOKEN" -H "Content-Type: application/json" -d @- "$KICKFLOW_URL/api/qc/reprocess" | jq '{requeued: [.jobs[].id], refused}'""": Check(
        failed, reprocessed_short
    ),
    """curl -sS -X DELETE -H "Authorization: Bearer $KICKFLOW_TOKEN" "$KICKFLOW_URL/api/qc/jobs/$JOB_ID" | jq""": Check(
        failed, deleted
    ),
}


def test_every_runbook_command_has_a_check() -> None:
    assert RUNBOOKS, "no runbooks in docs/runbooks"
    missing = [
        f"{c.where}: {c.text}" for c in ALL if not EXPORT.match(c.text) and c.text not in CHECKS
    ]
    assert not missing, "runbook commands without a check:\n" + "\n".join(missing)
    unused = set(CHECKS) - {c.text for c in ALL}
    assert not unused, f"checks for commands no runbook has: {unused}"


def test_every_runbook_sets_the_variables_it_uses() -> None:
    for path in RUNBOOKS:
        exported = {m.group(1) for c in extract(path) if (m := EXPORT.match(c.text))}
        text = " ".join(c.text for c in extract(path))
        used = set(re.findall(r"\$(KICKFLOW_[A-Z_]+)", text))
        assert used <= exported, f"{path.name} uses {used - exported} without exporting them"


def _run(s: Scenario, command: Command, extra: dict[str, str], background: bool) -> Run:
    env = {**s.env, **extra}
    cwd = s.env["HOME"]
    if background:
        return _run_background(s, command, env, cwd)
    text = command.text
    if exported := re.match(r"export (JOB_ID|HOLDER_PID)=", text):
        text += f' && printf "%s\\n" "${exported.group(1)}"'
    done = subprocess.run(
        ["bash", "-c", text],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(command, done.returncode, done.stdout, done.stderr, extra.get("JOB_ID", ""))


def _run_background(s: Scenario, command: Command, env: dict[str, str], cwd: str) -> Run:
    """A foreground service command: start it, wait until it registers, stop it (SIGTERM)."""
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command.text}"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wanted = int(command.text.rsplit(" ", 1)[1])
    try:
        wait_for(
            lambda: [
                w
                for w in s.debug()["workers"]
                if w["pid"] == process.pid and w["concurrency"] == wanted
            ],
            60,
            f"`{command.text}` to register as a live worker",
            interval=0.2,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    return Run(command, process.returncode, out, err)


@pytest.mark.parametrize("command", ALL, ids=[c.where for c in ALL])
def test_runbook_command(scenario: Scenario, command: Command) -> None:
    export = EXPORT.match(command.text)
    if export:
        name, placeholder = export.groups()
        assert placeholder in {
            "http://127.0.0.1:8000",
            "kf_replace_with_an_admin_token",
            "/var/lib/kickflow",
        }
        value = scenario.env[name] if name != "KICKFLOW_DATA_DIR" else str(scenario.server.data_dir)
        substituted = f"export {name}={value}"
        done = subprocess.run(
            ["bash", "-c", f'{substituted} && printf "%s" "${name}"'],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout == value
        scenario.env[name] = value
        return
    check = CHECKS[command.text]
    extra = check.setup(scenario)
    run = _run(scenario, command, extra, check.background)
    assert run.returncode in check.ok_codes, f"{command.where}: exit {run.returncode}\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    try:
        check.verify(scenario, run)
    except (AssertionError, ValueError, KeyError, IndexError) as exc:
        raise AssertionError(
            f"{command.where}: `{command.text}` did not do what the runbook says "
            f"({check.verify.__name__}): {exc!r}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
        ) from exc
