"""HTTP mode of the queue benchmark: one real ``kickflow serve --workers 0`` per backend, and
worker processes that each loop ``claim(limit=B)`` → ``complete`` / ``complete_many`` through
:class:`~kickflow.worker.remote.HttpWorkerStore` (one keep-alive connection per process)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from queue_common import (
    UNCAPPED,
    Row,
    bench_settings,
    drain,
    fill,
    process_cpu_seconds,
    run_processes,
    start_instant,
    write_result,
)

from kickflow.errors import LeaseLost
from kickflow.jobs import Lease, SqlJobStore
from kickflow.worker.remote import HttpWorkerStore

START_TIMEOUT_S = 60.0


@dataclass
class Service:
    url: str
    token: str  # a worker token
    db_url: str
    log: Path
    pid: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _env(db_url: str, data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KICKFLOW_")}
    env.update({f"KICKFLOW_{k.upper()}": str(v) for k, v in UNCAPPED.items()})
    env.update(KICKFLOW_DATABASE_URL=db_url, KICKFLOW_DATA_DIR=str(data_dir), **extra)
    return env


@contextmanager
def service(db_url: str, extra_env: dict[str, str] | None = None) -> Iterator[Service]:
    """``kickflow serve --workers 0`` on ``db_url`` (migrated), with a fresh worker token."""
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        log = Path(tmp) / "serve.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kickflow", "serve", "--workers", "0", "--port", str(port)],
                env=_env(db_url, Path(tmp) / "data", extra_env or {}),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("kickflow serve did not start:\n" + log.read_text())
                time.sleep(0.1)
            store = SqlJobStore(db_url, bench_settings())
            token = store.create_token(store.ensure_org(), "worker", name="bench_queue")
            store.close()
            warm_up(url, token.secret)
            yield Service(url, token.secret, db_url, log, proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def warm_up(url: str, token: str) -> None:
    """Call each worker route once (FastAPI builds some per-route state on first use); the
    fake lease matches no job, so nothing is written."""
    store = HttpWorkerStore(url, token, bench_settings())
    fake = Lease("no-such-job", "no-token", 1, "bench-warm-up")
    store.claim(fake.worker_id, limit=1)
    store.heartbeat(fake, 0.0, "initializing")
    store.complete_many([(fake, "passed", {})])
    with contextlib.suppress(LeaseLost):
        store.complete(fake, "passed", {})
    store.close()


def _burn(server_url: str, token: str, start_at: float, out: str, batch: int) -> None:
    store = HttpWorkerStore(server_url, token, bench_settings())
    done, latencies = drain(store, f"bench-http-{os.getpid()}", start_at, batch)
    store.close()
    write_result(out, done=done, lat=latencies, end=time.time())


def throughput(svc: Service, backend: str, workers: int, jobs: int, batch: int) -> Row:
    """Queue ``jobs`` (untimed), then ``workers`` HTTP workers burn them down through ``svc``."""
    fill(svc.db_url, jobs)
    with tempfile.TemporaryDirectory() as tmp:
        outs = [f"{tmp}/w{i}.json" for i in range(workers)]
        start_at = start_instant(workers)
        args = [(svc.url, svc.token, start_at, o, batch) for o in outs]
        cpu = process_cpu_seconds(svc.pid)
        results = run_processes(_burn, args, outs)
        cpu = process_cpu_seconds(svc.pid) - cpu
    burn_s = max(r["end"] for r in results) - start_at
    assert sum(r["done"] for r in results) == jobs, "HTTP workers lost jobs"
    lat = [x for r in results for x in r["lat"]]
    row = Row("http", backend, workers, str(batch), jobs, jobs / burn_s, lat)
    row.server_cpu_ms = 1000 * cpu / jobs
    return row
