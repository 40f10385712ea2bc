"""Dashboard benchmark: the jobs page with 100,000 jobs, and what 200 open dashboards cost.

1. ``pages``: server time of the jobs page ``GET /jobs`` and, beside it, the API list
   ``GET /api/qc/jobs``, on SQLite and on PostgreSQL (a fresh database per run: a file, or a
   database at 127.0.0.1:5432 dropped afterwards). One organisation holds ``--jobs`` jobs, a
   second one ``--other-jobs`` interleaved with them in time, so every query has to scope.
   Seeded with bulk INSERTs: states, verdicts, 60 projects (a few big, many small), five
   profiles, broadcast-style file names, ``created_at`` spread over nine months. Completed
   jobs carry a report: the newest ``--full-reports`` of each organisation a full-size one
   (~50 KB, as a real loudness curve and level strip make it), older ones a small one, which
   keeps the seeding short. Requests go in-process through the ASGI app (httpx
   ``ASGITransport``) with a signed-in session cookie, so the time is the server's own:
   routing, session lookup, queries and rendering, no network. The cases run interleaved,
   round after round (noise from the shared machine spreads over all of them);
   p50/p95/p99 over ``--requests`` each, as wall time and as this process's CPU time (the
   server's own work, which other load on the machine barely moves; on PostgreSQL the
   database's share is only in the wall time). Goal (issue 9): p99 <= 100 ms on both
   backends. ``--explain`` prints the plan of each case's list query as the store sent it.
2. ``sse``: a real ``kickflow serve --workers 0`` on a fresh SQLite database. This process
   keeps ``--moving-jobs`` running jobs moving (one progress heartbeat through ``SqlJobStore``
   every ``--change-ms``, round robin, as a worker on the same database would), opens 0, then
   1, then ``--streams`` concurrent ``/api/qc/events`` streams of the organisation (raw
   sockets over loopback, one session each, spread over several 127.0.0.x source addresses
   so the per-client connection cap keeps its default) and reads the server's CPU time
   (``/proc/<pid>/stat`` utime + stime, children included) over ``--window`` seconds each.
   The table counts each stream's events; after the last window every stream must end on
   every job's final progress (how many did is printed).
   Goal (issue 9): 200 open dashboards cost the server less than one core.

    .venv/bin/python benchmarks/bench_dashboard.py                 # both parts, both backends
    .venv/bin/python benchmarks/bench_dashboard.py --part pages --backend sqlite
    .venv/bin/python benchmarks/bench_dashboard.py --part sse --streams 200 --window 30
    .venv/bin/python benchmarks/bench_dashboard.py --part pages --explain   # + query plans

A full run takes several minutes. The machine is shared: the load average is printed with
every table, so compare the figures of one run (page against API, 200 streams against 1)
rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
from bench_api import free_port, spawn_server

from kickflow.api.app import create_app
from kickflow.config import Settings
from kickflow.jobs import Job, SqlJobStore
from kickflow.jobs.db import make_engine, write_tx
from kickflow.jobs.migrate import upgrade
from kickflow.jobs.queries import encode_cursor
from kickflow.jobs.schema import jobs
from kickflow.security.passwords import hash_password
from kickflow.web.session import SESSION_COOKIE

DAY = 86400.0
SPAN_DAYS = 270
BATCH = 5000
GOAL_P99_MS = 100.0
PG_USERS = ("postgres", "root")
SHOWS = (
    "harbour", "northline", "atlas", "meridian", "copperfield", "lantern", "saltmarsh",
    "ironbridge", "blackwater", "kestrel", "ravensworth", "highfield", "silverdale", "moorland",
    "driftwood", "foxglove", "thornbury", "westgate", "larkspur", "oakhaven",
)  # fmt: skip
VARIANTS = ("v1", "v2", "v3", "final", "textless", "mne", "trailer", "promo", "subtitled")
EXTENSIONS = ("mxf",) * 5 + ("mov",) * 3 + ("mp4",) * 2 + ("wav",)
PROFILES = {"ebu-r128": 55, "streaming": 20, "web": 12, "atsc-a85": 8, "acme-broadcast": 5}
TERMINAL = {"completed": 88, "failed": 8, "cancelled": 4}
ACTIVE = {"queued": 70, "running": 20, "paused": 10}
VERDICTS = {"passed": 70, "needs_review": 20, "failed": 10}
ACTIVE_SHARE = 0.0002  # the newest 0.02 % (20 of 100,000) are still queued, running or paused
CURVE_POINTS = 600  # what a real report's loudness curve and level strip hold
LEVEL_POINTS = 1000


# --- seeding ------------------------------------------------------------------------------------


def weighted(rng: random.Random, table: dict[str, int]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def project_weights(n: int = 60) -> dict[str, int]:
    """Projects by size: a few big shows, a long tail of small ones (Zipf-like)."""
    return {f"show-{k:02d}": max(1, round(1000 / k)) for k in range(1, n + 1)}


def file_name(rng: random.Random) -> str:
    show = rng.choice(SHOWS)
    season, episode = rng.randint(1, 9), rng.randint(1, 24)
    return f"{show}_s{season:02d}e{episode:02d}_{rng.choice(VARIANTS)}.{rng.choice(EXTENSIONS)}"


def report(verdict: str, full: bool) -> dict[str, Any]:
    """A report of the stored shape; ``full``: the size of a real one (curves included)."""
    n_curve, n_levels = (CURVE_POINTS, LEVEL_POINTS) if full else (0, 0)
    curve = [{"t": i / 10, "momentary": -23.1, "short_term": -22.9} for i in range(n_curve)]
    levels = [
        {"t": i / 5, "out_of_range": 0.002, "y_min": 16, "y_max": 235} for i in range(n_levels)
    ]
    checks = [{"id": f"check.{i}", "status": "passed", "summary": "ok"} for i in range(17)]
    findings = [] if verdict == "passed" else [
        {"check": "video.black", "severity": "error" if verdict == "failed" else "warning",
         "start_s": 10.0, "end_s": 12.0, "timecode": "00:00:10:00",
         "end_timecode": "00:00:12:00", "message": "Black picture for 2.0 s from 10.00 s"}
    ]  # fmt: skip
    return {
        "schema_version": 1,
        "verdict": verdict,
        "loudness": {"integrated_lufs": -23.0, "true_peak_dbtp": -1.5, "curve": curve},
        "measurements": {"video": {"levels": levels}},
        "checks": checks,
        "findings": findings,
    }


@dataclass
class Rows:
    """What each seeded job row draws from: one random generator, one shared set of reports."""

    rng: random.Random
    projects: dict[str, int]
    reports: dict[tuple[str, bool], dict[str, Any]]


def job_row(
    rows: Rows, org_id: str, created: float, rank: int, n: int, full: int
) -> dict[str, Any]:
    """One job; ``rank`` 0 is the organisation's newest (the newest few are still active)."""
    rng = rows.rng
    active = rank < n * ACTIVE_SHARE
    state = weighted(rng, ACTIVE if active else TERMINAL)
    verdict = weighted(rng, VERDICTS) if state == "completed" else None
    finished = created + rng.uniform(60, 1800) if not active else None
    name = file_name(rng)
    return {
        "id": str(uuid.uuid4()), "org_id": org_id, "project": weighted(rng, rows.projects),
        "file_name": name, "file_size": rng.randint(10**7, 10**11), "source_type": "upload",
        "source_ref": f"uploads/{uuid.uuid4().hex}", "profile": weighted(rng, PROFILES),
        "state": state, "phase": "decode" if state == "running" else None,
        "progress": 100.0 if state == "completed" else (42.0 if state == "running" else 0.0),
        "progress_at": created if state == "running" else None,
        "attempt": 0 if state == "queued" else 1, "max_attempts": 3, "lease_losses": 0,
        "run_at": created, "priority": 0, "lease_token": "seeded" if state == "running" else None,
        "lease_expires_at": created + SPAN_DAYS * DAY if state == "running" else None,
        "worker_id": None, "heartbeat_at": None, "cancel_requested": False,
        "pause_requested": False, "error_code": "not_media" if state == "failed" else None,
        "error_message": "not a media file" if state == "failed" else None,
        "verdict": verdict, "report": rows.reports[verdict, rank < full] if verdict else None,
        "created_at": created, "started_at": None if state == "queued" else created + 1,
        "finished_at": finished, "updated_at": finished or created,
    }  # fmt: skip


def timeline(rng: random.Random, sizes: dict[str, int], now: float) -> list[tuple[float, str, int]]:
    """(created_at, org id, rank from the newest) for every job, all organisations mixed."""
    out: list[tuple[float, str, int]] = []
    for org_id, n in sizes.items():
        times = sorted((now - rng.uniform(0, SPAN_DAYS * DAY) for _ in range(n)), reverse=True)
        out += [(t, org_id, rank) for rank, t in enumerate(times)]
    out.sort()
    return out


def insert_jobs(url: str, sizes: dict[str, int], full: int, now: float) -> None:
    """Bulk INSERTs of every organisation's jobs (oldest first, as they would have arrived)."""
    rows = Rows(random.Random(9), project_weights(), {})
    rows.reports = {(v, f): report(v, f) for v in VERDICTS for f in (True, False)}
    engine = make_engine(url)
    order = timeline(rows.rng, sizes, now)
    for start in range(0, len(order), BATCH):
        batch = [job_row(rows, org, t, rank, sizes[org], full)
                 for t, org, rank in order[start : start + BATCH]]  # fmt: skip
        with write_tx(engine) as conn:
            conn.execute(sa.insert(jobs), batch)
    settled(engine)
    engine.dispose()


def settled(engine: sa.Engine) -> None:
    """Statistics and (PostgreSQL) the visibility map as autovacuum would have left them: a
    freshly loaded table has neither, and its plans and index-only scans are not the ones a
    database that has been running for months gets."""
    vacuum = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(vacuum)


@dataclass
class World:
    """A seeded database: the organisations, their signed-in sessions, the store's clock."""

    url: str
    big: str
    small: str
    secrets: dict[str, str] = field(default_factory=dict)  # org id -> session secret
    now: float = 0.0


def seed(url: str, sizes: tuple[int, int], full: int) -> World:
    """Migrate, create two organisations and one admin user in both, insert the jobs."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    store = SqlJobStore(url, Settings(database_url=url))
    try:
        world = World(url, store.create_org("studio"), store.create_org("elsewhere"))
        user = store.create_user("bench@example.com", hash_password("benchmark password"))
        for org_id in (world.big, world.small):
            store.set_membership(user.id, org_id, "admin")
        world.now = store.now()
        insert_jobs(url, {world.big: sizes[0], world.small: sizes[1]}, full, world.now)
        for org_id in (world.big, world.small):
            world.secrets[org_id] = store.create_session(user.id, org_id, DAY).secret
    finally:
        store.close()
    return world


# --- timing -------------------------------------------------------------------------------------


def percentile(times: list[float], q: float) -> float:
    """Nearest-rank percentile of ``times`` (q in 0..1)."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


# --- part 1: the jobs page ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request measured on the page and on the API: the query of each, whose session."""

    page: dict[str, str]
    api: dict[str, str]
    org: str


def job_at(store: SqlJobStore, world: World, depth: int) -> Job:
    """The job ``depth`` places down the big organisation's list (newest first)."""
    stmt = (
        sa.select(jobs.c.id)
        .where(jobs.c.org_id == world.big)
        .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
        .offset(depth)
        .limit(1)
    )
    with store.engine.connect() as conn:
        job_id = conn.execute(stmt).scalar_one()
    return store.get(world.big, job_id)


def cases(store: SqlJobStore, world: World, n_jobs: int) -> dict[str, Case]:
    """Each single filter of the jobs page, the first page, a deep page, the other org."""
    same = {
        "first page": {},
        "state=failed": {"state": "failed"},
        "state=running": {"state": "running"},
        "verdict=needs_review": {"verdict": "needs_review"},
        "project (big)": {"project": "show-01"},
        "project (small)": {"project": "show-60"},
        "profile=acme-broadcast": {"profile": "acme-broadcast"},
    }
    out = {name: Case(q, q, world.big) for name, q in same.items()}
    rare = job_at(store, world, n_jobs // 2).file_name.rsplit(".", 1)[0]  # a handful match
    for name, text in (("common", "final"), ("rare", rare), ("no match", "no-such-name")):
        out[f"text ({name})"] = Case({"q": text}, {"text": text}, world.big)
    out["created, one week"] = week(world, 60)
    cursor = {"cursor": encode_cursor(job_at(store, world, int(n_jobs * 0.9)))}
    out["cursor at 90 %"] = Case(cursor, cursor, world.big)
    out["other org, first page"] = Case({}, {}, world.small)
    return out


def week(world: World, days_ago: int) -> Case:
    """The seven whole days (UTC) from ``days_ago`` days back: the page's dates are days, its
    'to' inclusive; the API takes instants, its end exclusive."""
    first = datetime.fromtimestamp(world.now - days_ago * DAY, UTC).date()
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = start + timedelta(days=7)
    page = {"from": first.isoformat(), "to": (first + timedelta(days=6)).isoformat()}
    return Case(page, {"createdFrom": start.isoformat(), "createdTo": end.isoformat()}, world.big)


@dataclass
class Samples:
    """Milliseconds per request: wall time, and this process's CPU time (requests run one at a
    time, so that is the server's work alone, whatever else the shared machine runs)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


async def time_cases(
    app: Any, world: World, table: dict[str, Case], rounds: int
) -> dict[tuple[str, str], Samples]:
    """Samples by (target: page or api, case), the cases interleaved round after round."""
    out: dict[tuple[str, str], Samples] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        for n in range(rounds + 5):  # the first rounds warm caches and pools: not counted
            for name, case in table.items():
                cookie = {"Cookie": f"{SESSION_COOKIE}={world.secrets[case.org]}"}
                for target, path, query in (("page", "/jobs", case.page),
                                            ("api", "/api/qc/jobs", case.api)):  # fmt: skip
                    wall, cpu = time.perf_counter(), time.process_time()
                    reply = await client.get(path, params=query, headers=cookie)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    if reply.status_code != 200:
                        raise SystemExit(f"{path} {query}: {reply.status_code} {reply.text[:300]}")
                    if n >= 5:
                        samples = out.setdefault((target, name), Samples())
                        samples.wall.append(wall * 1000)
                        samples.cpu.append(cpu * 1000)
    return out


async def api_rows(app: Any, world: World, table: dict[str, Case]) -> dict[str, int]:
    """How many jobs each case's first page lists (a filter that finds nothing is no test)."""
    transport = httpx.ASGITransport(app=app)
    out = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        for name, case in table.items():
            cookie = {"Cookie": f"{SESSION_COOKIE}={world.secrets[case.org]}"}
            reply = await client.get("/api/qc/jobs", params=case.api, headers=cookie)
            out[name] = len(reply.json()["jobs"])
    return out


def print_pages(label: str, times: dict[tuple[str, str], Samples], rows: dict[str, int]) -> None:
    print(f"\n{label}: milliseconds per request ({load()})")
    print(f"{'':<24} {'':>4}  {'page wall':>20}  {'page CPU':>13}  {'API wall':>13}")
    print(f"{'case':<24} {'rows':>4}  {'p50':>6} {'p95':>6} {'p99':>6}  {'p50':>6} {'p99':>6}"
          f"  {'p50':>6} {'p99':>6}  {'page/API':>8}")  # fmt: skip
    worst = worst_cpu = 0.0
    for name, n_rows in rows.items():
        page, api = times["page", name], times["api", name]
        page_p99, cpu_p99 = percentile(page.wall, 0.99), percentile(page.cpu, 0.99)
        worst, worst_cpu = max(worst, page_p99), max(worst_cpu, cpu_p99)
        ratio = statistics.median(page.wall) / statistics.median(api.wall)
        print(
            f"{name:<24} {n_rows:>4}  {statistics.median(page.wall):6.1f} "
            f"{percentile(page.wall, 0.95):6.1f} {page_p99:6.1f}  "
            f"{statistics.median(page.cpu):6.1f} {cpu_p99:6.1f}  "
            f"{statistics.median(api.wall):6.1f} {percentile(api.wall, 0.99):6.1f}  {ratio:7.2f}x"
        )
    verdict = "met" if worst <= GOAL_P99_MS else "NOT met"
    print(f"worst page p99: {worst:.1f} ms wall ({worst_cpu:.1f} ms CPU): "
          f"goal <= {GOAL_P99_MS:.0f} ms {verdict}")  # fmt: skip


def explain(store: SqlJobStore, world: World, table: dict[str, Case]) -> None:
    """The plan of the list query of each case, captured as the store sends it."""
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if "LIMIT" in statement.upper() and "FROM jobs" in statement:
            seen.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if store.engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    for name, case in table.items():
        seen.clear()
        asyncio.run(api_rows(create_app(store.settings, store=store), world, {name: case}))
        statement, params = seen[-1]
        with store.engine.connect() as conn:
            plan = conn.exec_driver_sql(prefix + statement, params).all()
        print(f"\n-- {name}")
        print("\n".join("  " + " ".join(str(v) for v in row) for row in plan))
    sa.event.remove(store.engine, "before_cursor_execute", capture)


def run_pages(label: str, url: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    world = seed(url, (args.jobs, args.other_jobs), args.full_reports)
    seeded = time.perf_counter() - started
    print(f"\n{label}: {args.jobs:,} + {args.other_jobs:,} jobs seeded in {seeded:.0f} s")
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(database_url=url, data_dir=Path(data))
        store = SqlJobStore(url, settings)
        try:
            app = create_app(settings, store=store)
            table = cases(store, world, args.jobs)
            rows = asyncio.run(api_rows(app, world, table))
            times = asyncio.run(time_cases(app, world, table, args.requests))
            print_pages(label, times, rows)
            if args.explain:
                explain(store, world, table)
        finally:
            store.close()


# --- part 2: server-sent events -----------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (their CPU time counts too)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children so far."""
    ticks = 0
    for p in process_tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(url: str, data_dir: Path) -> Iterator[tuple[int, int]]:
    """``kickflow serve --workers 0`` on ``url``: (port, pid), stopped afterwards."""
    port = free_port()
    proc = spawn_server(url, data_dir, port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"kickflow serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("kickflow serve did not become healthy within 120 s")


class Mover(threading.Thread):
    """Keeps running jobs moving: one heartbeat with new progress every ``interval`` s."""

    def __init__(self, store: SqlJobStore, org_id: str, n_jobs: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.store, self.interval = store, interval
        names = [f"moving-{i}.mxf" for i in range(n_jobs)]
        for name in names:
            # the highest priority: claimed before the seeded queued jobs
            store.enqueue(org_id, "upload", f"uploads/{name}", file_name=name, priority=100)
        self.leases = [c.lease for c in store.claim("bench-mover", limit=n_jobs)]
        if len(self.leases) != n_jobs:
            raise SystemExit(f"claimed {len(self.leases)} of {n_jobs} jobs")
        self.progress = {lease.job_id: 0.0 for lease in self.leases}
        self.writes = 0
        self.stop = threading.Event()

    def run(self) -> None:
        step = 0
        while not self.stop.wait(self.interval):
            lease = self.leases[step % len(self.leases)]
            value = round((step // len(self.leases) % 1000) / 10, 1)
            if not self.store.heartbeat(lease, value, "analyse").lease_held:
                raise RuntimeError(f"lost the lease of {lease.job_id}")
            self.progress[lease.job_id] = value
            self.writes += 1
            step += 1


@dataclass
class Stream:
    """One open dashboard: how many job events it got, and the last progress of each job."""

    ready: asyncio.Event = field(default_factory=asyncio.Event)
    events: int = 0
    last: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def note(self, block: bytes) -> None:
        kind, data = "message", b""
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                kind = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]
        if kind == "ready":
            self.ready.set()
        elif kind == "job":
            self.events += 1
            job = json.loads(data)
            self.last[job["id"]] = job["progress"]


async def follow(stream: Stream, port: int, secret: str, source: str) -> None:
    """Read one ``/api/qc/events`` stream until cancelled (HTTP/1.1, chunked)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        writer.write(
            f"GET /api/qc/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Accept: text/event-stream\r\nCookie: {SESSION_COOKIE}={secret}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head.lower():
            raise RuntimeError(head.decode(errors="replace").splitlines()[0])
        buffer = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            buffer += (await reader.readexactly(size + 2))[:-2]
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                stream.note(block)
        writer.close()
    except (OSError, RuntimeError, ValueError, asyncio.IncompleteReadError) as exc:
        stream.error = f"{type(exc).__name__}: {exc}"
        stream.ready.set()


@dataclass
class Window:
    streams: int
    cpu: float  # server CPU seconds in the window
    seconds: float
    events: list[int]
    writes: int
    client_cpu: float

    @property
    def cores(self) -> float:
        return self.cpu / self.seconds


async def measure(pid: int, mover: Mover, streams: list[Stream], seconds: float) -> Window:
    for s in streams:
        s.events = 0
    cpu0, own0, writes0, t0 = cpu_seconds(pid), time.process_time(), mover.writes, time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, own1, t1 = cpu_seconds(pid), time.process_time(), time.monotonic()
    return Window(len(streams), cpu1 - cpu0, t1 - t0, [s.events for s in streams],
                  mover.writes - writes0, own1 - own0)  # fmt: skip


async def open_streams(
    port: int, secrets: list[str], per_source: int
) -> tuple[list[Stream], list[asyncio.Task[None]]]:
    streams = [Stream() for _ in secrets]
    tasks = [
        asyncio.create_task(follow(s, port, secret, f"127.0.0.{2 + i // per_source}"))
        for i, (s, secret) in enumerate(zip(streams, secrets, strict=True))
    ]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in streams)), timeout=120)
    failed = [s.error for s in streams if s.error]
    if failed:
        raise SystemExit(f"{len(failed)} streams failed, e.g. {failed[0]}")
    return streams, tasks


async def all_caught_up(streams: list[Stream], mover: Mover, timeout: float) -> int:
    """Wait until every stream shows every job's final progress; how many do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(s.last == mover.progress for s in streams)
        if done == len(streams):
            return done
        await asyncio.sleep(0.2)
    return sum(s.last == mover.progress for s in streams)


async def sse_windows(
    port: int, pid: int, mover: Mover, secrets: list[str], args: argparse.Namespace
) -> None:
    windows = [await measure(pid, mover, [], args.window)]
    first, first_tasks = await open_streams(port, secrets[:1], args.per_source)
    windows.append(await measure(pid, mover, first, args.window))
    rest, rest_tasks = await open_streams(port, secrets[1:], args.per_source)
    everyone = first + rest
    windows.append(await measure(pid, mover, everyone, args.window))
    mover.stop.set()
    mover.join()
    caught_up = await all_caught_up(everyone, mover, 60)
    for task in first_tasks + rest_tasks:
        task.cancel()
    await asyncio.gather(*first_tasks, *rest_tasks, return_exceptions=True)
    print_sse(windows, caught_up, args)


def print_sse(windows: list[Window], caught_up: int, args: argparse.Namespace) -> None:
    print(f"\nSSE, kickflow serve on SQLite, {args.moving_jobs} jobs moving, one change every "
          f"{args.change_ms:.0f} ms, {args.window:.0f} s windows ({load()})")  # fmt: skip
    print(f"{'streams':>7} {'server cores':>12} {'changes':>7} {'events/stream min/median/max':>30}"
          f" {'bench cores':>11}")  # fmt: skip
    for w in windows:
        spread = (f"{min(w.events)}/{statistics.median(w.events):.0f}/{max(w.events)}"
                  if w.events else "-")  # fmt: skip
        print(f"{w.streams:>7} {w.cores:12.3f} {w.writes:>7} {spread:>30} "
              f"{w.client_cpu / w.seconds:11.3f}")  # fmt: skip
    idle, one, many = windows
    marginal = (many.cores - idle.cores) / max(1e-9, one.cores - idle.cores)
    starved = sum(1 for n in many.events if n == 0)
    print(
        f"{many.streams} streams / 1 stream: {many.cores / max(1e-9, one.cores):.1f}x the "
        f"cores; above the idle server: {marginal:.1f}x"
    )
    print(
        f"streams with no event in the {many.streams}-stream window: {starved}; "
        f"streams ending on every job's final progress: {caught_up}/{many.streams}"
    )
    verdict = "met" if many.cores < 1.0 else "NOT met"
    print(f"{many.streams} streams: {many.cores:.3f} cores: goal < 1 core {verdict}")


def run_sse(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        world = seed(url, (args.sse_jobs, 0), 0)
        # no running cap: the seeded running jobs must not keep the mover's jobs queued
        settings = Settings(database_url=url, data_dir=Path(tmp) / "data", org_max_running=0)
        store = SqlJobStore(url, settings)
        try:
            secrets = [world.secrets[world.big]]
            user = store.user_for_sign_in("bench@example.com")
            assert user is not None
            secrets += [store.create_session(user[0].id, world.big, DAY).secret
                        for _ in range(args.streams - 1)]  # fmt: skip
            with server(url, Path(tmp) / "data") as (port, pid):
                mover = Mover(store, world.big, args.moving_jobs, args.change_ms / 1000)
                mover.start()
                asyncio.run(sse_windows(port, pid, mover, secrets, args))
        finally:
            store.close()


# --- main ---------------------------------------------------------------------------------------


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database at 127.0.0.1:5432, dropped afterwards."""
    user = next(u for u in PG_USERS if _pg_reachable(u))
    name = f"kickflow_bench_{uuid.uuid4().hex[:8]}"
    _pg_admin(user, f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}"
    finally:
        _pg_admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_reachable(user: str) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", user=user, dbname="postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _pg_admin(user: str, sql: str) -> None:
    with psycopg.connect(host="127.0.0.1", user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--part", choices=["pages", "sse", "both"], default="both")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--other-jobs", type=int, default=10_000)
    parser.add_argument("--full-reports", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--per-source", type=int, default=20, help="streams per source address")
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--moving-jobs", type=int, default=4)
    parser.add_argument("--change-ms", type=float, default=100.0)
    parser.add_argument("--sse-jobs", type=int, default=10_000)
    args = parser.parse_args()
    print(f"start: {load()}")
    if args.part in {"pages", "both"}:
        if args.backend in {"sqlite", "both"}:
            with tempfile.TemporaryDirectory() as tmp:
                run_pages("SQLite", f"sqlite:///{tmp}/bench.db", args)
        if args.backend in {"postgres", "both"}:
            with pg_database() as url:
                run_pages("PostgreSQL", url, args)
    if args.part in {"sse", "both"}:
        run_sse(args)


if __name__ == "__main__":
    main()
