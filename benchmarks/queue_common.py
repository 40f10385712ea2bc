"""Shared parts of the queue benchmarks (``bench_queue.py`` and its ``queue_*`` helpers): fresh
databases, process fan-out with a common start instant, latency summaries and result rows."""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from kickflow.jobs.db import make_engine
from kickflow.jobs.migrate import upgrade
from kickflow.jobs.port import WorkerPort

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
UNCAPPED = {"org_max_running": 0, "org_max_queued": 10**9}
FILL_BATCH = 500


def bench_settings(**extra: Any) -> Settings:
    """Settings for the throughput runs: no per-organisation caps or queued limit."""
    return Settings.model_validate(UNCAPPED | extra)


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def pg_conninfo(name: str) -> str:
    """The libpq form of the same database (procrastinate's connector takes it)."""
    return f"host={PG['host']} port={PG['port']} user={PG['user']} dbname={name}"


@contextmanager
def pg_database(prefix: str = "kickflow_bench") -> Iterator[str]:
    """A fresh, empty PostgreSQL database; yields its name and drops it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**PG, dbname="postgres", autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield name
    finally:
        with psycopg.connect(**PG, dbname="postgres", autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh migrated database URL, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            migrate(url)
            yield url
        return
    with pg_database() as name:
        url = pg_url(name)
        migrate(url)
        yield url


def migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def fill(url: str, jobs: int, source_ref: str = "/bench/job.mov", org: str = "local") -> None:
    """Queue ``jobs`` path jobs from this process (untimed: the run measures the burn-down)."""
    store = SqlJobStore(url, bench_settings())
    org_id = store.ensure_org(org)
    for first in range(0, jobs, FILL_BATCH):
        count = min(FILL_BATCH, jobs - first)
        store.enqueue_many(
            [
                store.new_job(org_id, "path", source_ref, file_name=f"{first + i}.mov")
                for i in range(count)
            ]
        )
    store.close()


def start_instant(processes: int) -> float:
    """A wall-clock instant far enough ahead for ``processes`` spawned children to import."""
    return time.time() + 1.5 + 0.25 * processes


def wait_until(instant: float) -> None:
    while time.time() < instant:
        time.sleep(0.0005)


def drain(store: WorkerPort, worker: str, start_at: float, batch: int) -> tuple[int, list[float]]:
    """From ``start_at``, claim ``batch`` jobs at a time and pass them until the queue is empty
    (one ``complete`` per job when ``batch`` is 1): (jobs done, each claim's latency)."""
    latencies: list[float] = []
    done = 0
    wait_until(start_at)
    while True:
        t0 = time.perf_counter()
        claimed = store.claim(worker, limit=batch)
        latencies.append(time.perf_counter() - t0)
        if not claimed:
            return done, latencies
        if batch == 1:
            store.complete(claimed[0].lease, "passed", {})
        else:
            store.complete_many([(c.lease, "passed", {}) for c in claimed])
        done += len(claimed)


def run_processes(
    target: Callable[..., None], args: Sequence[tuple[Any, ...]], outs: Sequence[str]
) -> list[dict[str, Any]]:
    """Run one spawned process per ``args`` entry; each writes its JSON result to its ``out``."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=a) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0, f"benchmark process exited with {p.exitcode}"
    return [json.loads(Path(o).read_text()) for o in outs]


def write_result(out: str, **values: Any) -> None:
    Path(out).write_text(json.dumps(values))


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    return sorted_values[int(q * (len(sorted_values) - 1))]


@dataclass
class Row:
    """One line of the results table."""

    mode: str
    backend: str
    processes: int
    batch: str  # jobs per claim (ours) or concurrency (procrastinate, the Worker class)
    jobs: int
    per_s: float
    latencies: list[float] = field(repr=False, default_factory=list)
    enqueue_per_s: float | None = None
    end_to_end_per_s: float | None = None
    server_cpu_ms: float | None = None  # CPU of the API process per job (http modes)

    @property
    def p50_ms(self) -> float:
        return 1000 * statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99_ms(self) -> float:
        if not self.latencies:
            return float("nan")
        return 1000 * percentile(sorted(self.latencies), 0.99)
