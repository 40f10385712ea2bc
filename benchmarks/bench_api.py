"""API latency with a big job table: p50/p99 of list, detail, progress and /api/health/full.

For SQLite and PostgreSQL: fills a fresh database with 100,000 jobs (and one history event
each), starts ``kickflow serve --workers 0`` on it, and measures from this process (a second
process, over HTTP with keep-alive, one request at a time).

    .venv/bin/python benchmarks/bench_api.py [--jobs 100000] [--requests 300] [--backend sqlite]

Goals (issue 4): p99 < 50 ms for list and detail, < 200 ms for /api/health/full. The
Prometheus scrape is measured too (no goal; scraped every 15 s).
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

from kickflow.jobs.accounts import create_org, create_token
from kickflow.jobs.db import make_engine, write_tx
from kickflow.jobs.migrate import upgrade
from kickflow.jobs.schema import job_events, jobs

STATES = ["completed"] * 80 + ["failed"] * 8 + ["cancelled"] * 4 + ["queued"] * 6 + ["running"] * 2
BATCH = 5000
PG = "postgresql+psycopg://{user}@127.0.0.1:5432/{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def job_row(org_id: str, index: int, now: float) -> dict[str, Any]:
    state = STATES[index % len(STATES)]
    created = now - 86400 * 30 + index * 25.0
    finished = created + 60 if state in {"completed", "failed", "cancelled"} else None
    return {
        "id": str(uuid.uuid4()),
        "org_id": org_id,
        "project": f"show-{index % 50}",
        "file_name": f"episode-{index:06d}.mxf",
        "file_size": 1_000_000 + index,
        "source_type": "path",
        "source_ref": f"/media/episode-{index:06d}.mxf",
        "profile": "ebu-r128",
        "state": state,
        "phase": "done" if state == "completed" else None,
        "progress": 100.0 if state == "completed" else 0.0,
        "progress_at": now if state == "running" else None,
        "attempt": 1 if state != "queued" else 0,
        "max_attempts": 3,
        "lease_losses": 0,
        "run_at": created,
        "priority": 0,
        "lease_expires_at": now + 3600 if state == "running" else None,
        "heartbeat_at": now if state == "running" else None,
        "cancel_requested": False,
        "pause_requested": False,
        "error_code": "not_media" if state == "failed" else None,
        "error_message": "not a media file" if state == "failed" else None,
        "verdict": "passed" if state == "completed" else None,
        "report": None,
        "created_at": created,
        "started_at": created + 1 if state != "queued" else None,
        "finished_at": finished,
        "updated_at": finished or created,
    }


def fill(url: str, n_jobs: int) -> tuple[str, list[str]]:
    """Migrate, create an organisation and token, insert ``n_jobs`` jobs; returns (token, ids)."""
    engine = make_engine(url)
    upgrade(engine)
    with write_tx(engine) as conn:
        org_id = create_org(conn, "bench")
        token = create_token(conn, org_id, "admin").secret
    now, ids = time.time(), []
    for start in range(0, n_jobs, BATCH):
        rows = [job_row(org_id, i, now) for i in range(start, min(n_jobs, start + BATCH))]
        events = [_event(r) for r in rows]
        with write_tx(engine) as conn:
            conn.execute(sa.insert(jobs), rows)
            conn.execute(sa.insert(job_events), events)
        ids += [r["id"] for r in rows]
    with engine.begin() as conn:  # fresh statistics, as autovacuum would have by now
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return token, ids


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": row["id"],
        "org_id": row["org_id"],
        "at": row["created_at"],
        "kind": "enqueued",
        "from_state": None,
        "to_state": "queued",
        "attempt": 0,
        "worker_id": None,
        "code": None,
        "message": None,
    }


def spawn_server(url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """``kickflow serve --workers 0`` on ``port`` against ``url``, its output discarded."""
    env = {
        "KICKFLOW_DATABASE_URL": url,
        "KICKFLOW_DATA_DIR": str(data_dir),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "kickflow", "serve", "--workers", "0", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def server(url: str, data_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = spawn_server(url, data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(call: Callable[[], httpx.Response], n: int) -> tuple[float, float]:
    for _ in range(min(20, n)):
        call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        reply = call()
        times.append((time.perf_counter() - start) * 1000)
        assert reply.status_code == 200, reply.text
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def run(label: str, url: str, n_jobs: int, n_requests: int) -> None:
    started = time.perf_counter()
    token, ids = fill(url, n_jobs)
    print(f"\n{label}: {n_jobs:,} jobs inserted in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp, server(url, Path(tmp)) as base:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        pick = random.Random(7)
        cases: dict[str, Callable[[], httpx.Response]] = {
            "list (50 newest)": lambda: client.get("/api/qc/jobs", params={"limit": 50}),
            "list state=failed": lambda: client.get(
                "/api/qc/jobs", params={"state": "failed", "limit": 50}
            ),
            "detail": lambda: client.get(f"/api/qc/jobs/{pick.choice(ids)}"),
            "progress": lambda: client.get("/api/qc/progress", params={"jobId": pick.choice(ids)}),
            "health/full": lambda: client.get("/api/health/full"),
            "metrics (scrape)": lambda: client.get("/metrics"),
        }
        print(f"{'endpoint':<20} {'p50 ms':>8} {'p99 ms':>8}")
        for name, call in cases.items():
            p50, p99 = measure(call, n_requests)
            print(f"{name:<20} {p50:8.1f} {p99:8.1f}")
        client.close()


@contextmanager
def pg_database() -> Iterator[str]:
    name = f"kickflow_bench_{uuid.uuid4().hex[:8]}"
    user = "postgres"
    _admin(user, f'CREATE DATABASE "{name}"')
    try:
        yield PG.format(user=user, name=name)
    finally:
        _admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(user: str, sql: str) -> None:
    with psycopg.connect(
        host="127.0.0.1", port=5432, user=user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    if args.backend in {"sqlite", "both"}:
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/bench.db", args.jobs, args.requests)
    if args.backend in {"postgres", "both"}:
        with pg_database() as url:
            run("PostgreSQL", url, args.jobs, args.requests)


if __name__ == "__main__":
    main()
