"""Queue benchmark: no-op job throughput and claim latency on SQLite (WAL, one file) and
PostgreSQL (fresh throw-away databases at 127.0.0.1:5432), four ways, side by side in one run,
with procrastinate on the same PostgreSQL as the yardstick; then SIGKILL-to-requeue time.

How to run (a full run takes several minutes on a 2-core machine; the machine is shared and
noisy, so compare the ratios of one run rather than absolute numbers across runs):

    .venv/bin/python benchmarks/bench_queue.py                       # everything
    .venv/bin/python benchmarks/bench_queue.py --modes http --backends postgres --workers 8
    .venv/bin/python benchmarks/bench_queue.py --min-jobs 500 --jobs-per-worker 100   # quick
    .venv/bin/python benchmarks/bench_queue.py --rounds 3    # medians of 3 interleaved rounds

Modes (``--modes``, comma-separated):

- ``direct``: worker processes calling ``SqlJobStore`` in a loop. Batch 1 is one job per
  transaction (claim, then complete); batch B is ``claim(limit=B)`` + ``complete_many``: what a
  worker with B free slots does, B jobs per transaction. 1/4/8 producer processes enqueue first
  (timed on their own: ``enqueue/s``; ``end-to-end`` = N / (enqueue time + burn-down time)).
- ``http``: one real ``kickflow serve --workers 0`` per backend (fresh database, kept for the
  whole run); worker processes each loop ``claim(limit=B)`` → ``complete`` / ``complete_many``
  through ``HttpWorkerStore`` (the worker protocol, one keep-alive connection each). Jobs are
  queued beforehand, untimed.
- ``worker``: the real ``kickflow.worker.Worker`` class (``--concurrency`` slots, default 8; its
  claimer claims as many jobs as it has free slots in one call) with a no-op engine on path jobs
  over ``SqlJobStore``: the full attempt pipeline per job (five progress heartbeats, path checks,
  temp dir, one fenced ``complete`` per job), so it measures the pipeline, not the claim.
  ``worker-http``: the same through the ``kickflow serve`` of the http mode.
- ``procrastinate``: procrastinate 3's own worker (``App`` + ``PsycopgConnector``, an async
  no-op task, ``run_worker_async(wait=False, concurrency=C)`` in each process) on a fresh
  database with its schema; one job per fetch. ``--procrastinate-concurrency`` (default 1,8).

Every row reports jobs/s for claim + complete (the burn-down of a full queue) and the claim
latency per call (p50/p99; a call may claim B jobs; for procrastinate its ``fetch_job``).
``x procr`` columns: our jobs/s divided by procrastinate's best jobs/s with the same number of
processes, and our claim p99 divided by that row's fetch p99 (below 1 = faster).
``API CPU ms/job`` (http modes): CPU time the ``kickflow serve`` process used per job during the
burn-down, the figure least disturbed by other load on the machine.
The jobs are spread round-robin over ``--orgs`` organisations in the direct mode (the claim is
fair between them); per-organisation caps are off (``org_max_running=0``) and the queued limit
is out of the way everywhere, so the numbers are the queue's own.
Recovery (``--recovery``, on by default with ``direct``): a process claims a job, heartbeats and
is SIGKILLed; a reaper process running every R seconds must re-queue the job within lease + R.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import queue_http
import queue_procrastinate
import queue_worker
from queue_common import (
    Row,
    bench_settings,
    database,
    drain,
    percentile,
    run_processes,
    start_instant,
    wait_until,
    write_result,
)

from kickflow.config import Settings
from kickflow.jobs import JobState, SqlJobStore

WORKER_COUNTS = "1,4,8"
BATCHES = "1,10,50"  # jobs per transaction: 1 is one job at a time
MODES = "direct,http,worker,procrastinate"
RECOVERY = {"lease_seconds": 3.0, "heartbeat_seconds": 0.5, "reaper_interval_seconds": 1.0}
Run = Callable[[], Row]
GOALS = {"http_per_s": 500.0, "http_p99_ms": 50.0, "direct_batched_per_s": 2000.0}


# --- direct: SqlJobStore in each worker process ----------------------------------------------


def _burn(url: str, start_at: float, out: str, batch: int) -> None:
    store = SqlJobStore(url, bench_settings())
    done, latencies = drain(store, f"bench-{os.getpid()}", start_at, batch)
    write_result(out, done=done, lat=latencies, end=time.time())


def _org_names(orgs: int) -> list[str]:
    return ["local"] + [f"bench-{i}" for i in range(1, orgs)]


def _produce(url: str, n: int, batch: int, start_at: float, out: str, orgs: int) -> None:
    store = SqlJobStore(url, bench_settings())
    org_ids = [store.ensure_org(name) for name in _org_names(orgs)]
    wait_until(start_at)
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
    write_result(out, end=time.time())


def throughput(url: str, workers: int, jobs: int, batch: int, orgs: int = 1) -> dict[str, Any]:
    """W producers enqueue N jobs over ``orgs`` organisations, then W workers burn them down,
    both in ``batch`` sizes."""
    jobs = jobs // workers * workers
    store = SqlJobStore(url, bench_settings())
    for name in _org_names(orgs):
        store.ensure_org(name)
    store.close()
    with tempfile.TemporaryDirectory() as tmp:
        outs = [f"{tmp}/p{i}.json" for i in range(workers)]
        start_at = start_instant(workers)
        args = [(url, jobs // workers, batch, start_at, o, orgs) for o in outs]
        enqueue_s = max(r["end"] for r in run_processes(_produce, args, outs)) - start_at
        outs = [f"{tmp}/w{i}.json" for i in range(workers)]
        start_at = start_instant(workers)
        results = run_processes(_burn, [(url, start_at, o, batch) for o in outs], outs)
    burn_s = max(r["end"] for r in results) - start_at
    lat = sorted(x for r in results for x in r["lat"])
    assert sum(r["done"] for r in results) == jobs
    return {
        "jobs": jobs,
        "enqueue_per_s": jobs / enqueue_s,
        "burn_per_s": jobs / burn_s,
        "end_to_end_per_s": jobs / (enqueue_s + burn_s),
        "claim_p50_ms": 1000 * statistics.median(lat),
        "claim_p99_ms": 1000 * percentile(lat, 0.99),
        "lat": lat,
    }


def direct_row(backend: str, workers: int, jobs: int, batch: int, orgs: int) -> Row:
    with database(backend) as url:
        r = throughput(url, workers, jobs, batch, orgs)
    return Row("direct", backend, workers, str(batch), r["jobs"], r["burn_per_s"], r["lat"],
               r["enqueue_per_s"], r["end_to_end_per_s"])  # fmt: skip


def worker_row(backend: str, workers: int, jobs: int, concurrency: int) -> Row:
    with database(backend) as url:
        target = {"kind": "sql", "url": url}
        return queue_worker.throughput(target, url, backend, workers, jobs, concurrency)


# --- recovery -----------------------------------------------------------------------------------


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
    import multiprocessing

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


# --- the table ----------------------------------------------------------------------------------

HEAD = (f"{'mode':<14}{'backend':<9}{'procs':>6}{'batch':>6}{'jobs':>7}{'enqueue/s':>10}"
        f"{'claim+done/s':>13}{'end-to-end/s':>13}{'claim p50 ms':>13}{'claim p99 ms':>13}"
        f"{'x procr /s':>11}{'x procr p99':>12}{'API CPU ms/job':>15}")  # fmt: skip


def _num(value: float | None, width: int, digits: int = 0) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def _reference(rows: list[Row], processes: int) -> Row | None:
    """procrastinate's best row with ``processes`` worker processes."""
    same = [r for r in rows if r.mode == "procrastinate" and r.processes == processes]
    return max(same, key=lambda r: r.per_s, default=None)


def line(row: Row, rows: list[Row]) -> str:
    ref = None if row.mode == "procrastinate" else _reference(rows, row.processes)
    ratio = None if ref is None else row.per_s / ref.per_s
    p99_ratio = None if ref is None else row.p99_ms / ref.p99_ms
    return "".join([
        f"{row.mode:<14}{row.backend:<9}{row.processes:>6}{row.batch:>6}{row.jobs:>7}",
        _num(row.enqueue_per_s, 10), f"{row.per_s:>13.0f}", _num(row.end_to_end_per_s, 13),
        f"{row.p50_ms:>13.2f}{row.p99_ms:>13.2f}", _num(ratio, 11, 2), _num(p99_ratio, 12, 2),
        _num(row.server_cpu_ms, 15, 2),
    ])  # fmt: skip


def goals(rows: list[Row], most: int) -> list[str]:
    """One line per goal of the issue, from the rows with ``most`` worker processes."""
    out = []
    per_s, p99 = GOALS["http_per_s"], GOALS["http_p99_ms"]
    for r in rows:
        if r.processes != most:
            continue
        if r.mode == "http":
            ok = r.per_s >= per_s and r.p99_ms <= p99
            out.append(
                f"http {r.backend}, {most} workers, batch {r.batch}: {r.per_s:.0f} jobs/s, claim "
                f"p99 {r.p99_ms:.1f} ms (goal >= {per_s:.0f}/s and <= {p99:.0f} ms): "
                + ("met" if ok else "MISSED")
            )
        if r.mode == "direct" and r.backend == "postgres" and r.batch != "1":
            goal = GOALS["direct_batched_per_s"]
            out.append(
                f"direct postgres, {most} workers, batch {r.batch}: {r.per_s:.0f} jobs/s "
                f"(goal >= {goal:.0f}/s): " + ("met" if r.per_s >= goal else "MISSED")
            )
    return out


# --- the run ------------------------------------------------------------------------------------


def _csv_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--modes", default=MODES, help=f"{MODES},worker-http")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", default=WORKER_COUNTS, help="worker processes, e.g. 1,4,8")
    parser.add_argument("--batches", default=BATCHES, help="jobs per claim, e.g. 1,10")
    parser.add_argument("--concurrency", type=int, default=8, help="slots of the Worker class")
    parser.add_argument("--procrastinate-concurrency", default="1,8")
    parser.add_argument("--jobs-per-worker", type=int, default=1000)
    parser.add_argument("--min-jobs", type=int, default=3000)
    parser.add_argument("--orgs", type=int, default=1, help="organisations (direct mode)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run everything N times, report medians"
    )
    parser.add_argument(
        "--recovery",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure SIGKILL-to-requeue (default: when the direct mode runs)",
    )
    args = parser.parse_args()
    known = set(MODES.split(",")) | {"worker-http"}
    unknown = set(args.modes.split(",")) - known
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}: pick from {sorted(known)}")
    return args


def plan(args: argparse.Namespace, services: dict[str, queue_http.Service]) -> Iterator[Run]:
    """The runs in order: per worker count, procrastinate first, then ours, so each ratio
    compares runs a few seconds apart on this noisy machine."""
    modes = args.modes.split(",")
    for workers in _csv_ints(args.workers):
        jobs = max(args.min_jobs, args.jobs_per_worker * workers)
        if "procrastinate" in modes:
            for c in _csv_ints(args.procrastinate_concurrency):
                yield partial(queue_procrastinate.throughput, workers, jobs, c)
        for backend in args.backends.split(","):
            for batch in _csv_ints(args.batches):
                if "direct" in modes:
                    yield partial(direct_row, backend, workers, jobs, batch, args.orgs)
                if "http" in modes:
                    yield partial(queue_http.throughput, services[backend], backend, workers,
                                  jobs, batch)  # fmt: skip
            if "worker" in modes:
                yield partial(worker_row, backend, workers, jobs, args.concurrency)
            if "worker-http" in modes:
                svc = services[backend]
                target = {"kind": "http", "url": svc.url, "token": svc.token, "pid": str(svc.pid)}
                yield partial(queue_worker.throughput, target, svc.db_url, backend, workers,
                              jobs, args.concurrency)  # fmt: skip


def combined(rows: list[Row]) -> list[Row]:
    """One row per configuration over the rounds: median jobs/s (and enqueue, end-to-end and
    API CPU figures), latencies pooled; in the order first run."""
    groups: dict[tuple[str, str, int, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.mode, row.backend, row.processes, row.batch), []).append(row)
    return [_median_row(group) for group in groups.values()]


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _median_row(group: list[Row]) -> Row:
    first = group[0]
    return Row(
        first.mode, first.backend, first.processes, first.batch, first.jobs,
        statistics.median(r.per_s for r in group), [x for r in group for x in r.latencies],
        _median([r.enqueue_per_s for r in group]), _median([r.end_to_end_per_s for r in group]),
        _median([r.server_cpu_ms for r in group]),
    )  # fmt: skip


def main() -> None:
    args = parse_args()
    modes = args.modes.split(",")
    backends = args.backends.split(",")
    rows: list[Row] = []
    with ExitStack() as stack:
        services = {}
        if {"http", "worker-http"} & set(modes):
            for backend in backends:
                url = stack.enter_context(database(backend))
                services[backend] = stack.enter_context(queue_http.service(url))
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no} of {args.rounds}\n{HEAD}", flush=True)
            this_round: list[Row] = []
            for run in plan(args, services):
                this_round.append(run())
                print(line(this_round[-1], this_round), flush=True)
            rows += this_round
    summary = combined(rows)
    print(f"\nAll rows (median jobs/s of {args.rounds} round(s), latencies pooled), with the "
          "ratios to procrastinate's best row of the same process count:")  # fmt: skip
    print(HEAD)
    for row in summary:
        print(line(row, summary))
    for text in goals(summary, max(_csv_ints(args.workers))):
        print(text)
    if args.recovery or (args.recovery is None and "direct" in modes):
        report_recovery(backends)


def report_recovery(backends: list[str]) -> None:
    lease, every = RECOVERY["lease_seconds"], RECOVERY["reaper_interval_seconds"]
    for backend in backends:
        with database(backend) as url:
            times = recovery(url)
        shown = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"{backend}: SIGKILL -> re-queued in {shown} s "
            f"(bound: lease {lease:.0f} s + reaper {every:.0f} s = {lease + every:.0f} s)"
        )


if __name__ == "__main__":
    main()
