"""Queue benchmark: no-op job throughput, claim latency and SIGKILL-to-requeue time, on SQLite
(WAL, one file) and PostgreSQL (a fresh throw-away database at 127.0.0.1:5432).

    .venv/bin/python benchmarks/bench_queue.py [--jobs-per-worker 1000] [--backends sqlite,postgres]
        [--orgs 1]

Throughput: 1, 4 or 8 producer processes enqueue N jobs (timed on their own), then as many
worker processes burn them down (claim + complete). Batch 1 is one job per transaction
everywhere (what `kickflow worker` does); batch B uses ``enqueue_many``, ``claim(limit=B)``
and ``complete_many``: B jobs per transaction.
"end-to-end" counts enqueue + claim + complete: N / (enqueue time + burn-down time).
The jobs are spread round-robin over ``--orgs`` organisations (the claim is fair between them);
per-organisation caps are off (``org_max_running=0``) and the queued limit is out of the way,
so the numbers are the queue's own.
Recovery: a process claims a job, heartbeats, and is SIGKILLed; a reaper process running every
R seconds must re-queue the job within lease + R.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import signal
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from kickflow.config import Settings
from kickflow.jobs import JobState, SqlJobStore
from kickflow.jobs.db import make_engine
from kickflow.jobs.migrate import upgrade

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
WORKER_COUNTS = (1, 4, 8)
BATCHES = "1,10,50"  # jobs per transaction: 1 is what `kickflow worker` does
RECOVERY = {"lease_seconds": 3.0, "heartbeat_seconds": 0.5, "reaper_interval_seconds": 1.0}
UNCAPPED = {"org_max_running": 0, "org_max_queued": 10**9}


def bench_settings() -> Settings:
    """Settings for the throughput runs: no per-organisation caps or queued limit."""
    return Settings.model_validate(UNCAPPED)


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh migrated database URL, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            _migrate(url)
            yield url
        return
    name = f"kickflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**PG, dbname="postgres", autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    _migrate(url)
    try:
        yield url
    finally:
        with psycopg.connect(**PG, dbname="postgres", autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def _burn(url: str, start_at: float, out: str, batch: int) -> None:
    store = SqlJobStore(url, bench_settings())
    worker = f"bench-{os.getpid()}"
    latencies: list[float] = []
    done = 0
    while time.time() < start_at:
        time.sleep(0.0005)
    while True:
        t0 = time.perf_counter()
        claimed = store.claim(worker, limit=batch)
        latencies.append(time.perf_counter() - t0)
        if not claimed:
            break
        if batch == 1:
            store.complete(claimed[0].lease, "passed", {})
        else:
            store.complete_many([(c.lease, "passed", {}) for c in claimed])
        done += len(claimed)
    Path(out).write_text(json.dumps({"done": done, "lat": latencies, "end": time.time()}))


def _org_names(orgs: int) -> list[str]:
    return ["local"] + [f"bench-{i}" for i in range(1, orgs)]


def _produce(url: str, n: int, batch: int, start_at: float, out: str, orgs: int) -> None:
    store = SqlJobStore(url, bench_settings())
    org_ids = [store.ensure_org(name) for name in _org_names(orgs)]
    while time.time() < start_at:
        time.sleep(0.0005)
    for first in range(0, n, batch):
        items = [
            store.new_job(org_ids[i % orgs], "path", f"/bench/{i}.mov", file_name=f"{i}.mov")
            for i in range(first, min(n, first + batch))
        ]
        if batch == 1:
            one = items[0]
            store.enqueue(one.org_id, "path", one.source_ref, file_name=one.file_name)
        else:
            store.enqueue_many(items)
    Path(out).write_text(json.dumps({"end": time.time()}))


def _run(target: object, args: list[tuple[object, ...]], outs: list[str]) -> list[dict]:  # type: ignore[type-arg]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=target, args=a) for a in args]  # type: ignore[arg-type]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    return [json.loads(Path(o).read_text()) for o in outs]


def throughput(url: str, workers: int, jobs: int, batch: int, orgs: int = 1) -> dict[str, float]:
    """W producers enqueue N jobs over ``orgs`` organisations, then W workers burn them down,
    both in ``batch`` sizes."""
    jobs = jobs // workers * workers
    store = SqlJobStore(url, bench_settings())
    for name in _org_names(orgs):
        store.ensure_org(name)
    store.close()
    with tempfile.TemporaryDirectory() as tmp:
        outs = [f"{tmp}/p{i}.json" for i in range(workers)]
        start_at = time.time() + 1.5 + 0.2 * workers
        args = [(url, jobs // workers, batch, start_at, o, orgs) for o in outs]
        enqueue_s = max(r["end"] for r in _run(_produce, args, outs)) - start_at  # type: ignore[arg-type]
        outs = [f"{tmp}/w{i}.json" for i in range(workers)]
        start_at = time.time() + 1.5 + 0.2 * workers
        results = _run(_burn, [(url, start_at, o, batch) for o in outs], outs)  # type: ignore[arg-type]
    burn_s = max(r["end"] for r in results) - start_at
    lat = sorted(x for r in results for x in r["lat"])
    assert sum(r["done"] for r in results) == jobs
    return {
        "enqueue_per_s": jobs / enqueue_s,
        "burn_per_s": jobs / burn_s,
        "end_to_end_per_s": jobs / (enqueue_s + burn_s),
        "claim_p50_ms": 1000 * statistics.median(lat),
        "claim_p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
    }


def _hold(url: str, ready: str) -> None:
    """Claim one job and keep heartbeating it until killed."""
    store = SqlJobStore(url, Settings(**RECOVERY))  # type: ignore[arg-type]
    [claimed] = store.claim(f"victim-{os.getpid()}")
    Path(ready).write_text(claimed.job.id)
    while True:
        store.heartbeat(claimed.lease, 50.0, "analyzing")
        time.sleep(RECOVERY["heartbeat_seconds"])


def _reaper(url: str) -> None:
    store = SqlJobStore(url, Settings(**RECOVERY))  # type: ignore[arg-type]
    while True:
        store.reap()
        time.sleep(RECOVERY["reaper_interval_seconds"])


def recovery(url: str, rounds: int = 3) -> list[float]:
    """Seconds from SIGKILL of the job's holder to the job being queued again."""
    ctx = multiprocessing.get_context("spawn")
    store = SqlJobStore(url, Settings(**RECOVERY))  # type: ignore[arg-type]
    org = store.ensure_org()
    reaper = ctx.Process(target=_reaper, args=(url,), daemon=True)
    reaper.start()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            job = store.enqueue(org, "path", f"/r/{i}", file_name=f"r{i}", max_attempts=10)
            ready = Path(tmp) / f"ready{i}"
            holder = ctx.Process(target=_hold, args=(url, str(ready)))
            holder.start()
            while not ready.exists() or ready.read_text() != job.id:
                time.sleep(0.01)
            time.sleep(1.0)  # let it heartbeat a couple of times
            assert holder.pid is not None
            os.kill(holder.pid, signal.SIGKILL)
            killed = time.monotonic()
            holder.join()
            while store.get(org, job.id).state is not JobState.QUEUED:
                time.sleep(0.01)
            times.append(time.monotonic() - killed)
            store.cancel(org, job.id)
    reaper.kill()
    store.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs-per-worker", type=int, default=1000)
    parser.add_argument("--min-jobs", type=int, default=3000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--batches", default=BATCHES, help="jobs per transaction, e.g. 1,10")
    parser.add_argument("--orgs", type=int, default=1, help="organisations the jobs belong to")
    args = parser.parse_args()
    print(f"{'backend':<9}{'workers':>8}{'batch':>6}{'jobs':>7}{'enqueue/s':>11}{'claim+done/s':>14}"
          f"{'end-to-end/s':>14}{'claim p50 ms':>14}{'claim p99 ms':>14}")  # fmt: skip
    recoveries = {}
    for backend in args.backends.split(","):
        for workers, batch in itertools.product(
            WORKER_COUNTS, [int(b) for b in args.batches.split(",")]
        ):
            jobs = max(args.min_jobs, args.jobs_per_worker * workers)
            with database(backend) as url:
                r = throughput(url, workers, jobs, batch, args.orgs)
            print(f"{backend:<9}{workers:>8}{batch:>6}{jobs:>7}{r['enqueue_per_s']:>11.0f}"
                  f"{r['burn_per_s']:>14.0f}{r['end_to_end_per_s']:>14.0f}"
                  f"{r['claim_p50_ms']:>14.2f}{r['claim_p99_ms']:>14.2f}", flush=True)  # fmt: skip
        with database(backend) as url:
            recoveries[backend] = recovery(url)
    lease, every = RECOVERY["lease_seconds"], RECOVERY["reaper_interval_seconds"]
    for backend, times in recoveries.items():
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"{backend}: SIGKILL -> re-queued in {shown} s "
            f"(bound: lease {lease:.0f} s + reaper {every:.0f} s = {lease + every:.0f} s)"
        )


if __name__ == "__main__":
    main()
