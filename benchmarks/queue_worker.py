"""Worker-class mode of the queue benchmark: N processes each running the real
:class:`kickflow.worker.Worker` (its claimer thread claims as many jobs as it has free slots in
one call, C slot threads run the attempts) with a no-op QC engine, on path jobs that point at a
one-byte file under the worker's allowed roots.

Per job that is the whole attempt pipeline, not just the claim protocol: the batch claim, five
progress reports that each heartbeat (``force=True`` at 5, 10, 40, 95 and 99 %), the profile
load, a per-attempt temp directory, the path source's checks and a one-byte copy, then the
fenced ``complete`` (one per job: the Worker does not batch completions). The store is either
``SqlJobStore`` (direct) or ``HttpWorkerStore`` (through a ``kickflow serve``; then the API
process's CPU time per job is reported too). Claim latency is
timed around the claimer's real ``store.claim`` calls. Worker log lines are built but not
printed (logging is left unconfigured).
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import time
from pathlib import Path
from typing import Any

from queue_common import (
    Row,
    bench_settings,
    fill,
    process_cpu_seconds,
    start_instant,
    wait_until,
    write_result,
)

from kickflow.config import Settings
from kickflow.jobs import Claimed, SqlJobStore
from kickflow.worker import Worker
from kickflow.worker.remote import HttpWorkerStore

POLL_S = 0.05  # how often the parent looks whether the queue is empty
STOP_GRACE_S = 10.0


class _Report:
    verdict = "passed"

    def to_dict(self) -> dict[str, Any]:
        return {}


def noop_engine(path: Path, profile: object, **_: Any) -> _Report:
    """A QC engine that returns at once."""
    return _Report()


class TimedClaims:
    """The worker's store, with each ``claim`` call timed (everything else passes through)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.settings: Settings = store.settings
        self.latencies: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def claim(self, worker_id: str, limit: int = 1) -> list[Claimed]:
        t0 = time.perf_counter()
        got: list[Claimed] = self._store.claim(worker_id, limit)
        self.latencies.append(time.perf_counter() - t0)
        return got


def _worker_main(
    target: dict[str, str], start_at: float, out: str, stop: str, concurrency: int, base: str
) -> None:
    settings = bench_settings(
        data_dir=Path(out).with_suffix(".data"),  # its own: start-up cleans others' temp dirs
        allowed_roots=str(Path(base) / "media"),
        poll_seconds=POLL_S,
        worker_concurrency=concurrency,
    )
    if target["kind"] == "sql":
        store: Any = SqlJobStore(target["url"], settings)
    else:
        store = HttpWorkerStore(target["url"], target["token"], settings)
    timed = TimedClaims(store)
    worker = Worker(timed, settings, concurrency=concurrency, engine=noop_engine)  # type: ignore[arg-type]
    wait_until(start_at)
    worker.start()
    while not Path(stop).exists():
        time.sleep(POLL_S)
    worker.stop(grace=STOP_GRACE_S)
    store.close()
    write_result(out, done=worker.outcomes["completed"], outcomes=dict(worker.outcomes),
                 lat=timed.latencies)  # fmt: skip


def _queue_empty(store: SqlJobStore) -> bool:
    counts = store.state_counts(["queued", "running"])
    return counts.get("queued", 0) + counts.get("running", 0) == 0


def throughput(
    target: dict[str, str], db_url: str, backend: str, workers: int, jobs: int, concurrency: int
) -> Row:
    """``workers`` Worker processes with ``concurrency`` slots burn down ``jobs`` path jobs;
    ``target`` is ``{"kind": "sql", "url": …}`` or ``{"kind": "http", "url": …, "token": …}``."""
    watcher = SqlJobStore(db_url, bench_settings())
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        (media / "noop.mov").write_bytes(b"\0")
        fill(db_url, jobs, source_ref=str(media / "noop.mov"))
        ctx = multiprocessing.get_context("spawn")
        outs = [f"{tmp}/w{i}.json" for i in range(workers)]
        stop = f"{tmp}/stop"
        start_at = start_instant(workers)
        procs = [
            ctx.Process(target=_worker_main, args=(target, start_at, o, stop, concurrency, tmp))
            for o in outs
        ]
        for p in procs:
            p.start()
        server = int(target["pid"]) if "pid" in target else None
        cpu = process_cpu_seconds(server) if server else 0.0
        wait_until(start_at)
        while not _queue_empty(watcher):
            time.sleep(POLL_S)
        burn_s = time.time() - start_at
        cpu = process_cpu_seconds(server) - cpu if server else 0.0
        Path(stop).touch()
        for p in procs:
            p.join()
            assert p.exitcode == 0, f"worker process exited with {p.exitcode}"
        results = [json.loads(Path(o).read_text()) for o in outs]
    watcher.close()
    done = sum(r["done"] for r in results)
    outcomes = [r["outcomes"] for r in results]
    assert done == jobs, f"the Worker class completed {done} of {jobs} jobs: {outcomes}"
    lat = [x for r in results for x in r["lat"]]
    mode = "worker" if target["kind"] == "sql" else "worker-http"
    row = Row(mode, backend, workers, f"c{concurrency}", jobs, jobs / burn_s, lat)
    row.server_cpu_ms = 1000 * cpu / jobs if server else None
    return row
