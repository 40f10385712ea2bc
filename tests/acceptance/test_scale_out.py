"""Scale-out proof: PostgreSQL + object storage (a real SeaweedFS) + two API processes + three
HTTP workers, each with its own empty data directory and no database URL. 60 jobs (uploads and
path jobs) must all complete exactly once while one API process is killed and restarted, one
worker is SIGKILLed, one is SIGSTOPped past its lease and resumed (its late writes are fenced),
and the object store is restarted once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kickflow.jobs import JobState, SqlJobStore
from tests.fixtures_s3 import S3Bucket, SeaweedFS
from tests.fixtures_server import Server, start_server, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

JOBS = "/api/qc/jobs"
UPLOADS, PATHS = 30, 30
TIMINGS = {
    "KICKFLOW_LEASE_SECONDS": "6",
    "KICKFLOW_HEARTBEAT_SECONDS": "0.5",
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "0.5",
    "KICKFLOW_STUCK_AFTER_SECONDS": "30",
    "KICKFLOW_RETRY_BASE_SECONDS": "0.2",
    "KICKFLOW_RETRY_MAX_SECONDS": "1",
    "KICKFLOW_MAX_ATTEMPTS": "10",
    "KICKFLOW_POLL_SECONDS": "0.2",
    "KICKFLOW_SHUTDOWN_GRACE_SECONDS": "3",
    "KICKFLOW_HEALTH_CACHE_SECONDS": "0.2",
}


@dataclass
class Cluster:
    db_url: str
    nas: Path
    base: Path
    env: dict[str, str]
    apis: list[Server] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_api(self, index: int, port: int | None = None) -> Server:
        base = self.base / f"api-{index}-{len(self.apis)}"
        server = start_server(base, self.db_url, port=port, env=self.env)
        return server

    def start_worker(self, server_url: str, token: str) -> subprocess.Popen[bytes]:
        index = len(self.workers)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KICKFLOW_")}
        env.update(TIMINGS)
        env.update(
            KICKFLOW_DATA_DIR=str(self.base / f"worker-{index}"),  # empty, its own
            KICKFLOW_ALLOWED_ROOTS=str(self.nas),
            KICKFLOW_SERVER_URL=server_url,
            KICKFLOW_WORKER_TOKEN=token,
        )
        log = (self.base / f"worker-{index}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "kickflow", "worker", "--concurrency", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(proc)
        return proc


@pytest.fixture
def cluster(
    tmp_path: Path,
    empty_database_url: Callable[[str], str],
    s3_bucket: S3Bucket,
) -> Iterator[Cluster]:
    nas = tmp_path / "nas"
    nas.mkdir()
    env = {**TIMINGS, **s3_bucket.env(), "KICKFLOW_ALLOWED_ROOTS": str(nas),
           "KICKFLOW_MAX_UPLOAD_MB": "50"}  # fmt: skip
    c = Cluster(empty_database_url("postgres"), nas, tmp_path, env)
    with ExitStack() as stack:
        yield c
        for proc in c.workers:
            stack.callback(_kill, proc)
        for api in c.apis:
            stack.callback(api.stop)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def running_on(store: SqlJobStore, pid: int) -> str | None:
    """A job that the worker process ``pid`` is analysing now."""
    owners = {w.id: w.pid for w in store.live_workers()}
    for job in store.list_jobs(None, state="running", limit=100).jobs:
        if owners.get(job.worker_id or "") == pid and job.phase == "analyzing":
            return job.id
    return None


def kinds(store: SqlJobStore, job_id: str) -> list[str]:
    return [e.kind for e in store.events(job_id)]


def test_sixty_jobs_complete_exactly_once_through_faults(
    cluster: Cluster, seaweedfs: SeaweedFS, short_clip: Path
) -> None:
    a = cluster.start_api(0)
    cluster.apis.append(a)
    b = cluster.start_api(1)
    cluster.apis.append(b)
    token = a.token  # the first run's admin token; B shares the database
    worker_token = a.token_for("local", "worker")
    for url in (a.url, a.url, b.url):
        cluster.start_worker(url, worker_token)
    store = SqlJobStore(cluster.db_url)
    content = short_clip.read_bytes()
    ids: list[str] = []
    try:
        for i in range(PATHS):
            (cluster.nas / f"ep{i:02d}.mp4").write_bytes(content)
        for i in range(max(UPLOADS, PATHS)):
            api = (a, b)[i % 2]
            with api.client(token) as c:
                if i < UPLOADS:
                    reply = c.post(JOBS, files={"file": (f"up{i:02d}.mp4", content)})
                    assert reply.status_code == 201, reply.text
                    body = reply.json()
                    ids.append(body["jobs"][0]["id"] if "jobs" in body else body["id"])
                if i < PATHS:
                    path = str(cluster.nas / f"ep{i:02d}.mp4")
                    reply = c.post(JOBS, json={"source": {"type": "path", "path": path}})
                    assert reply.status_code == 201, reply.text
                    ids.append(reply.json()["id"])
        assert len(ids) == UPLOADS + PATHS

        # 1. SIGKILL a worker in the middle of a job.
        victim = cluster.workers[0]
        killed_job = wait_for(lambda: running_on(store, victim.pid), 120, "a job on worker 0")
        victim.kill()
        victim.wait(timeout=30)

        # 2. SIGSTOP another worker past its lease, then resume it: its late writes are fenced.
        frozen = cluster.workers[1]
        frozen_job = wait_for(lambda: running_on(store, frozen.pid), 120, "a job on worker 1")
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: "reaped" in kinds(store, frozen_job), 60, "the frozen job reaped")
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
        wait_for(lambda: "fenced" in kinds(store, frozen_job), 60, "the zombie's writes fenced")

        # 3. Kill API process A (two workers talk to it) and start it again on its port.
        port = int(a.url.rsplit(":", 1)[1])
        a.process.kill()
        a.process.wait(timeout=30)
        restarted = cluster.start_api(0, port=port)
        cluster.apis.append(restarted)

        # 4. Restart the object store while workers download.
        seaweedfs.restart(graceful=False)

        cluster.start_worker(b.url, worker_token)  # replaces the killed one

        def finished() -> bool:
            jobs = [store.get(None, i) for i in ids]
            failed = [(j.file_name, j.error_message) for j in jobs if j.state is JobState.FAILED]
            assert not failed, failed
            return all(j.state is JobState.COMPLETED for j in jobs)

        wait_for(finished, 600, "every job to complete", interval=0.5)
        for job_id in ids:
            assert kinds(store, job_id).count("completed") == 1, store.events(job_id)
        assert "reaped" in kinds(store, killed_job)  # its lease ran out; it completed elsewhere
        with httpx.Client(base_url=b.url, timeout=30) as c:
            health = c.get("/api/health/full").json()
        assert health["storage"]["status"] == "ok", health["storage"]
        # The workers kept nothing: no database, no copies (the SIGKILLed one's temp dir stays
        # until that machine's next worker starts and sweeps it).
        for index in range(1, len(cluster.workers)):
            data = cluster.base / f"worker-{index}"
            assert not (data / "kickflow.db").exists()
            assert not list(data.rglob("*.mp4"))
    finally:
        store.close()
