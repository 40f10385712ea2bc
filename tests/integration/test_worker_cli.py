"""The `kickflow db`, `kickflow jobs` and `kickflow worker` commands as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.jobs import JobState, JobStore
from tests.fixtures_server import Server, start_server


@pytest.fixture
def cli_env(job_settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KICKFLOW_DATABASE_URL": job_settings.database_url,
        "KICKFLOW_DATA_DIR": str(job_settings.data_dir),
        "KICKFLOW_ALLOWED_ROOTS": job_settings.allowed_roots,
        "KICKFLOW_HEARTBEAT_SECONDS": "0.5",
        "KICKFLOW_POLL_SECONDS": "0.2",
        "KICKFLOW_SHUTDOWN_GRACE_SECONDS": "0.5",
    }


def worker_side(env: dict[str, str], tmp_path: Path) -> tuple[Server | None, dict[str, str]]:
    """The environment of a `kickflow worker`: on PostgreSQL the database itself; on SQLite a
    client of a real `kickflow serve --workers 0` on the same database and data directory."""
    if not env["KICKFLOW_DATABASE_URL"].startswith("sqlite"):
        return None, env
    keep = ("KICKFLOW_DATA_DIR", "KICKFLOW_ALLOWED_ROOTS", "KICKFLOW_HEARTBEAT_SECONDS")
    service = start_server(
        tmp_path / "service", env["KICKFLOW_DATABASE_URL"], env={k: env[k] for k in keep}
    )
    worker_env = {k: v for k, v in env.items() if k != "KICKFLOW_DATABASE_URL"}
    worker_env["KICKFLOW_SERVER_URL"] = service.url
    worker_env["KICKFLOW_WORKER_TOKEN"] = service.token_for("local", "worker")
    return service, worker_env


def kickflow(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kickflow", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    env = {**os.environ, "KICKFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/new.db"}
    done = kickflow(env, "jobs", "list")
    assert done.returncode == 2
    assert "not migrated" in done.stderr and "kickflow db upgrade" in done.stderr
    assert "Traceback" not in done.stderr
    direct = kickflow(env, "worker")  # a direct worker on SQLite is refused first
    assert direct.returncode == 2 and "--server" in direct.stderr
    assert "Traceback" not in direct.stderr
    upgraded = kickflow(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "migrated" in upgraded.stdout
    assert kickflow(env, "jobs", "list").returncode == 0


def test_submit_run_wait_show_and_graceful_stop(
    cli_env: dict[str, str], store: JobStore, short_clip: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "copy.mp4"
    outside.parent.mkdir()
    outside.write_bytes(short_clip.read_bytes())
    submitted = kickflow(cli_env, "jobs", "submit", str(short_clip), str(outside))
    assert submitted.returncode == 0, submitted.stderr
    first, second = submitted.stdout.split()
    assert "copied into storage" in submitted.stderr
    log = (tmp_path / "worker.log").open("wb")
    service, worker_env = worker_side(cli_env, tmp_path)
    worker = subprocess.Popen(
        [sys.executable, "-m", "kickflow", "worker", "--concurrency", "2"],
        env=worker_env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for job_id in (first, second):
            waited = kickflow(cli_env, "jobs", "wait", job_id, "--timeout", "60")
            assert waited.returncode == 0, waited.stdout + waited.stderr
            assert "completed" in waited.stdout
        shown = kickflow(cli_env, "jobs", "show", first)
        assert "state     completed" in shown.stdout and "claimed" in shown.stdout
        listed = kickflow(cli_env, "jobs", "list", "--state", "completed")
        assert first in listed.stdout and second in listed.stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        if service is not None:
            service.stop()
    text = (tmp_path / "worker.log").read_text()
    assert "[QCWorker] action=completed" in text and "action=worker_stopped" in text


def test_cancel_retry_and_stuck_commands(cli_env: dict[str, str], store: JobStore) -> None:
    org = store.ensure_org()
    job = store.enqueue(org, "path", "/nowhere/a.mov", file_name="a.mov")
    cancelled = kickflow(cli_env, "jobs", "cancel", job.id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    assert kickflow(cli_env, "jobs", "cancel", job.id).returncode == 2  # already ended
    retried = kickflow(cli_env, "jobs", "retry", job.id)
    assert retried.returncode == 0 and "queued" in retried.stdout
    store.claim("gone-worker")
    wait_for("the job to look stuck", lambda: len(store.stuck_jobs(org)) == 1)
    requeued = kickflow(cli_env, "jobs", "retry-stuck")
    assert requeued.returncode == 0 and f"{job.id} re-queued" in requeued.stdout
    store.claim("gone-worker")
    wait_for("the job to look stuck", lambda: len(store.stuck_jobs(org)) == 1)
    ended = kickflow(cli_env, "jobs", "cancel-stuck")
    assert f"{job.id} cancelled" in ended.stdout
    assert store.get(org, job.id).state is JobState.CANCELLED
    waited = kickflow(cli_env, "jobs", "wait", job.id)
    assert waited.returncode == 1 and "cancelled" in waited.stdout
