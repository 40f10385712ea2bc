"""procrastinate mode of the queue benchmark: the same no-op job on the same PostgreSQL, through
procrastinate's own worker (``App`` + ``PsycopgConnector`` + ``app.run_worker_async``).

Each run gets a fresh database with procrastinate's schema applied
(``app.schema_manager.apply_schema_async()``); the jobs are deferred beforehand with
``batch_defer_async`` (untimed), then N worker processes, each ``run_worker_async(wait=False,
concurrency=C)``, burn them down and stop once the queue is empty. procrastinate fetches one job
per call (``procrastinate_fetch_job_v2``) and finishes each with its own call; the "claim"
latency recorded is that of ``job_manager.fetch_job``, timed around the real call.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from typing import Any

from procrastinate import App, PsycopgConnector
from queue_common import (
    Row,
    pg_conninfo,
    pg_database,
    run_processes,
    start_instant,
    write_result,
)

TASK = "bench_noop"
DEFER_BATCH = 1000


async def _noop() -> None:
    """The job: nothing (an async task runs on the worker's event loop, procrastinate's fast
    path; a sync one would go through a thread)."""


def make_app(conninfo: str, pool_size: int = 4) -> App:
    app = App(connector=PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_size))
    app.task(name=TASK)(_noop)
    return app


async def _prepare(conninfo: str, jobs: int) -> None:
    app = make_app(conninfo)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        task = app.tasks[TASK]
        for first in range(0, jobs, DEFER_BATCH):
            await task.batch_defer_async(*[{} for _ in range(min(DEFER_BATCH, jobs - first))])


async def _work(conninfo: str, start_at: float, concurrency: int) -> dict[str, Any]:
    app = make_app(conninfo, pool_size=concurrency + 3)
    latencies: list[float] = []
    fetched = 0
    async with app.open_async():
        real_fetch = app.job_manager.fetch_job

        async def timed_fetch(*args: Any, **kwargs: Any) -> Any:
            nonlocal fetched
            t0 = time.perf_counter()
            job = await real_fetch(*args, **kwargs)
            latencies.append(time.perf_counter() - t0)
            fetched += job is not None
            return job

        app.job_manager.fetch_job = timed_fetch  # type: ignore[method-assign]
        await asyncio.sleep(max(0.0, start_at - time.time()))
        await app.run_worker_async(
            wait=False,
            concurrency=concurrency,
            install_signal_handlers=False,
            listen_notify=False,
        )
        end = time.time()
    return {"done": fetched, "lat": latencies, "end": end}


def _burn(conninfo: str, start_at: float, out: str, concurrency: int) -> None:
    write_result(out, **asyncio.run(_work(conninfo, start_at, concurrency)))


def _finished(conninfo: str) -> int:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        ).fetchone()
    return int(row[0]) if row else 0


def throughput(workers: int, jobs: int, concurrency: int) -> Row:
    """procrastinate's burn-down of ``jobs`` no-op jobs by ``workers`` worker processes."""
    with pg_database("kickflow_bench_procr") as name:
        conninfo = pg_conninfo(name)
        asyncio.run(_prepare(conninfo, jobs))
        with tempfile.TemporaryDirectory() as tmp:
            outs = [f"{tmp}/p{i}.json" for i in range(workers)]
            start_at = start_instant(workers)
            results = run_processes(
                _burn, [(conninfo, start_at, o, concurrency) for o in outs], outs
            )
        succeeded = _finished(conninfo)
    burn_s = max(r["end"] for r in results) - start_at
    assert sum(r["done"] for r in results) == jobs == succeeded, "procrastinate lost jobs"
    lat = [x for r in results for x in r["lat"]]
    return Row("procrastinate", "postgres", workers, f"c{concurrency}", jobs, jobs / burn_s, lat)
