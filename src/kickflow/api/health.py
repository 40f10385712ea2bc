"""Component checks behind ``GET /api/health/full`` (the runbook's first command).

Each check returns ``{status: ok|warning|error|not_configured, message?, latency_ms?, details?}``
and never raises; nothing in here is tenant data, a secret, a server path, a host name or a pid
(the endpoint needs no token), except the pid and role of a process that holds the SQLite write
lock for too long: the on-call engineer needs it to resume or kill that process.

The endpoint is cheap whatever the request rate: the local checks (database, storage, queue,
FFmpeg, reaper) run at most once at a time and their snapshot is served for a few seconds
(:class:`SnapshotCache`); outbound probes (the transcription provider) run in a background
thread at most once per probe interval and requests only read their last result
(:class:`Prober`), so the provider's key is sent at most once per interval.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

import httpx

from kickflow.api.views import iso
from kickflow.config import Settings
from kickflow.errors import GoogleUnavailable, KickflowError
from kickflow.integrations.google.oauth import OAuthClient
from kickflow.integrations.google.types import ORG_OWNER
from kickflow.jobs import ACTIVE, TERMINAL, JobStore
from kickflow.media.binaries import binary_version, find_ffmpeg
from kickflow.storage import Storage

Component = dict[str, Any]
Check = Callable[[], Component]
COMPONENTS = ("database", "storage", "qc_worker", "ffmpeg", "groq_api", "google_oauth", "reaper")
GROQ_TIMEOUT_S = 2.0
GOOGLE_PROBE_S = 30.0
TERMINAL_TTL_S = 5.0
SEVERITY = {"ok": 0, "not_configured": 0, "warning": 1, "error": 2}
LOCK_RUNBOOK = "docs/runbooks/qc-stuck-jobs.md#database-busy"
TERMINAL_VALUES = tuple(sorted(s.value for s in TERMINAL))
ACTIVE_VALUES = tuple(sorted(s.value for s in ACTIVE))

log = logging.getLogger("kickflow.api")


def component(status: str, message: str | None = None, **extra: Any) -> Component:
    out: Component = {"status": status}
    if message:
        out["message"] = message
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def timed(check: Check) -> Component:
    """Run a check, adding ``latency_ms`` and turning any exception into ``error``.

    The message is the error class's own sentence, never the instance's text (a driver's
    message names hosts, an OS error names paths); the full text goes to the log.
    """
    start = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a health check reports every failure, it never raises
        log.warning("health check failed: %s: %s", type(exc).__name__, exc)
        result = component("error", public_message(exc))
    result.setdefault("latency_ms", round((time.perf_counter() - start) * 1000, 1))
    return result


def public_message(exc: Exception) -> str:
    """What an anonymous caller may read about ``exc``."""
    if isinstance(exc, KickflowError):
        return (type(exc).__doc__ or exc.code).strip().splitlines()[0]
    return f"{type(exc).__name__} (details in the service log)"


def database(store: JobStore, lock_warn_s: float = 1.0) -> Component:
    """One round trip through the store (``ping``: the dialect's name), and on SQLite who
    holds the write lock: ``warning`` once it is held longer than ``lock_warn_s``, ``error``
    once writers give up waiting for it (KICKFLOW_DB_LOCK_TIMEOUT_SECONDS)."""
    name = store.ping()
    lock_holder = getattr(store, "write_lock_holder", None)  # SQL stores only
    holder = lock_holder() if lock_holder else None
    if holder is None or holder.held_for <= lock_warn_s:
        return component("ok", f"{name} reachable")
    timeout = store.settings.db_lock_timeout_seconds
    message = f"the SQLite write lock is held by {holder.describe()}, for {holder.held_for:.0f} s"
    if holder.held_for > timeout:
        message += f"; writes fail with database_busy after {timeout:g} s: see {LOCK_RUNBOOK}"
    details = {
        "lock_holder": {
            "pid": holder.pid,
            "role": holder.role,
            "state": holder.state,
            "held_seconds": round(holder.held_for, 1),
        }
    }
    return component("error" if holder.held_for > timeout else "warning", message, details=details)


def storage(uploads: Storage) -> Component:
    """Local: free space for uploads; S3: one bounded ``head_bucket`` (never a hang)."""
    status, message, details = uploads.health()
    return component(status, message, details=details)


class TerminalCounts:
    """Completed/failed/cancelled totals, cached briefly: counting them scans the whole job
    table, and they do not decide any status (queued, running and stuck are always fresh)."""

    def __init__(self, ttl_seconds: float = TERMINAL_TTL_S) -> None:
        self.ttl = ttl_seconds
        self._value: dict[str, int] = {}
        self._at = -1e9
        self._lock = threading.Lock()

    def get(self, store: JobStore) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._at > self.ttl:
                self._value = store.state_counts(TERMINAL_VALUES)
                self._at = time.monotonic()
            return dict(self._value)


def fresh_counts(store: JobStore, terminal: TerminalCounts) -> dict[str, int]:
    """Active states and stuck now, terminal states from the short cache."""
    counts = store.state_counts(ACTIVE_VALUES)
    counts["stuck"] = store.stuck_count()
    return counts | terminal.get(store)


def qc_worker(store: JobStore, terminal: TerminalCounts) -> Component:
    counts = fresh_counts(store, terminal)
    workers = store.live_workers()
    oldest = store.oldest_queued_age()
    details = {
        "queued": counts["queued"],
        "running": counts["running"],
        "stuck": counts["stuck"],
        "completed": counts["completed"],
        "failed": counts["failed"],
        "cancelled": counts["cancelled"],
        "paused": counts["paused"],
        "workers": len(workers),
        "worker_slots": sum(w.concurrency for w in workers),
        "oldest_queued_age_seconds": None if oldest is None else round(oldest, 1),
        "queue_paused": store.queue_paused(),
    }
    status, message = _worker_verdict(details)
    return component(status, message, details=details)


def _worker_verdict(d: dict[str, Any]) -> tuple[str, str]:
    if d["stuck"]:
        return "error", f"{d['stuck']} job(s) stuck: see docs/runbooks/qc-stuck-jobs.md"
    if d["queued"] and not d["workers"]:
        return "error", f"{d['queued']} job(s) queued and no live worker"
    if d["queue_paused"]:
        return "warning", "the queue is paused: workers claim nothing"
    if not d["workers"]:
        return "warning", "no live worker (nothing queued)"
    return "ok", f"{d['workers']} worker(s) alive, {d['running']} running, {d['queued']} queued"


def ffmpeg(override: str) -> Component:
    binary = find_ffmpeg(override)
    version = binary_version(binary.path)
    details = {"source": binary.source, "version": version}  # the path is the server's
    return component("ok", f"FFmpeg {version}", details=details)


def groq_api(api_key: str, base_url: str, model: str = "") -> Component:
    """The transcription provider (Groq's by default; the runbook's name is kept): one
    ``GET {base}/models`` with the key. A refused key is an ``error`` (every transcription
    fails); a slow, unreachable or failing provider is a ``warning`` (jobs still complete,
    with a finding); ``model`` missing from the provider's list is a ``warning`` too."""
    if not api_key:
        return component("not_configured", "KICKFLOW_TRANSCRIPTION_API_KEY is not set")
    try:
        reply = httpx.get(
            f"{base_url.rstrip('/')}/models",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=GROQ_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        return component("warning", f"transcription provider unreachable: {type(exc).__name__}")
    status = reply.status_code
    if status in (401, 403):
        return component(
            "error",
            f"the provider refused the API key (HTTP {status}): "
            "check KICKFLOW_TRANSCRIPTION_API_KEY",
        )
    if status == 429 or status >= 500:
        return component("warning", f"transcription provider answered HTTP {status}")
    if status != 200:
        return component(
            "error",
            f"transcription provider answered HTTP {status} for /models: "
            "check KICKFLOW_TRANSCRIPTION_BASE_URL",
        )
    return _models_verdict(_model_ids(reply), model)


def _models_verdict(models: list[str] | None, model: str) -> Component:
    details = {"models": None if models is None else len(models), "model": model or None}
    if models is not None and model and model not in models:
        return component(
            "warning", f"the provider does not list the model {model}", details=details
        )
    return component("ok", "transcription provider reachable", details=details)


def _model_ids(reply: httpx.Response) -> list[str] | None:
    try:
        data = reply.json().get("data")
    except (ValueError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    return [str(item.get("id")) for item in data if isinstance(item, dict)]


class GoogleOAuthCheck:
    """``google_oauth``: whether Google's token endpoint answers (a probe at most every
    ``probe_seconds``, in the background: a busy health endpoint neither hammers Google nor
    waits for it) and how many Drive connections Google stopped refreshing. Counts only: who
    must reconnect is tenant data, for the Operations page (:func:`google_reconnect_list`)."""

    def __init__(self, settings: Settings, store: JobStore, probe_seconds: float) -> None:
        self.store = store
        self.oauth = OAuthClient(settings)
        self.prober = Prober({"google_oauth": self.probe}, probe_seconds)

    def probe(self) -> Component:
        try:
            latency = self.oauth.probe()
        except GoogleUnavailable:
            return component(
                "error", "Google's token endpoint does not answer (KICKFLOW_GOOGLE_TOKEN_URL)"
            )
        return component("ok", "Google's token endpoint answers", latency_ms=round(latency, 1))

    def __call__(self) -> Component:
        if not self.oauth.configured:
            return component(
                "not_configured",
                "KICKFLOW_GOOGLE_CLIENT_ID and KICKFLOW_GOOGLE_CLIENT_SECRET are not set",
            )
        probed = self.prober.latest()["google_oauth"]
        failed = len(self.store.google_connection_problems())
        if probed["status"] == "error" or not failed:
            return probed
        details = {**probed.get("details", {}), "refresh_failed": failed}
        message = (
            f"{failed} Google Drive connection(s) no longer refresh: "
            "their owners must reconnect Google Drive in Settings"
        )
        return {**probed, "status": "warning", "message": message, "details": details}


def google_reconnect_list(store: JobStore, org_id: str | None) -> list[dict[str, str]]:
    """Who must reconnect Google Drive (the kickflow user's email, or "the organisation" for
    an organisation-level connection, and the organisation's name), in ``org_id`` or, None,
    every organisation: for the Operations page, never for anonymous callers."""
    problems = [
        c for c in store.google_connection_problems() if org_id is None or c.org_id == org_id
    ]
    people: dict[str, tuple[str, dict[str, str]]] = {}
    for org in {c.org_id for c in problems}:
        members = store.org_members(org)
        name = members[0][1].org_name if members else org
        people[org] = (name, {user.id: user.email for user, _ in members})
    return [
        {
            "organisation": people[c.org_id][0],
            "user": "the organisation"
            if c.user_id == ORG_OWNER
            else people[c.org_id][1].get(c.user_id, "a former member"),
            "account": c.email or "",
        }
        for c in problems
    ]


def reaper(store: JobStore, interval: float, next_run_in: float | None = None) -> Component:
    status = store.reaper_status()
    now = store.now()
    last_run, last_error, error_at = (
        status["last_run"],
        status["last_error"],
        status["last_error_at"],
    )
    details = {
        "last_run_at": iso(last_run),
        "last_run_age_seconds": None if last_run is None else round(now - last_run, 1),
        "last_recovered": status["last_recovered"],
        "last_error": last_error,
        "last_error_at": iso(error_at),
        "interval_seconds": interval,
        "next_run_in_seconds": None if next_run_in is None else round(next_run_in, 2),
    }
    if error_at is not None and (last_run is None or error_at > last_run):
        return component("error", f"last run failed: {last_error}", details=details)
    if last_run is None:
        return component("warning", "the reaper has not run yet", details=details)
    if now - last_run > 5 * interval:
        return component("error", f"no reaper run for {now - last_run:.0f} s", details=details)
    return component("ok", f"last run {now - last_run:.0f} s ago", details=details)


def overall(components: dict[str, Component]) -> str:
    """The worst status of the components (not_configured counts as ok)."""
    worst = max((SEVERITY.get(c["status"], 2) for c in components.values()), default=0)
    return {0: "ok", 1: "warning", 2: "error"}[worst]


# --- the snapshot behind GET /api/health/full -------------------------------------------------


def service_checks(
    settings: Settings,
    store: JobStore,
    uploads: Storage,
    terminal: TerminalCounts,
    next_reaper_run: Callable[[], float | None],
) -> tuple[dict[str, Check], dict[str, Check]]:
    """(local checks, outbound probes) of one API process."""
    local: dict[str, Check] = {
        "database": lambda: database(store),
        "storage": lambda: storage(uploads),
        "qc_worker": lambda: qc_worker(store, terminal),
        "ffmpeg": lambda: ffmpeg(settings.ffmpeg),
        "google_oauth": GoogleOAuthCheck(
            settings, store, min(GOOGLE_PROBE_S, settings.health_probe_interval_seconds)
        ),
        "reaper": lambda: reaper(store, settings.reaper_interval_seconds, next_reaper_run()),
    }
    key = settings.resolved_transcription_key()
    groq = partial(
        groq_api, key, settings.resolved_transcription_url(), settings.transcription_model
    )
    if not key:  # answered here (not_configured): nothing to call
        return local | {"groq_api": groq}, {}
    return local, {"groq_api": groq}


class SnapshotCache:
    """The local checks' results, served for ``max_age`` seconds after they were started.

    Single flight: when the snapshot is too old, the first request starts one computation in
    its own thread and every request that arrives meanwhile awaits that same one; no request
    holds a thread of the pool while it waits.
    """

    def __init__(
        self,
        checks: dict[str, Check],
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checks = checks
        self.max_age = max_age
        self.computations = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._value: dict[str, Component] | None = None
        self._started_at = 0.0
        self._flight: Future[dict[str, Component]] | None = None

    async def get(self) -> dict[str, Component]:
        """The snapshot (shared: do not modify it)."""
        current = self._current_or_flight()
        if isinstance(current, dict):
            return current
        return await asyncio.wrap_future(current)

    def _current_or_flight(self) -> dict[str, Component] | Future[dict[str, Component]]:
        with self._lock:
            if self._value is not None and self._clock() - self._started_at <= self.max_age:
                return self._value
            if self._flight is None:
                self._flight = Future()
                # Running, so that a waiter that goes away cannot cancel it for the others.
                self._flight.set_running_or_notify_cancel()
                thread = threading.Thread(
                    target=self._compute, args=(self._flight,), name="health-snapshot"
                )
                thread.daemon = True
                thread.start()
            return self._flight

    def _compute(self, flight: Future[dict[str, Component]]) -> None:
        started = self._clock()
        value: dict[str, Component] | None = None
        try:
            value = {name: timed(check) for name, check in self.checks.items()}
        finally:  # timed() never raises; this only keeps the waiters from hanging if it did
            with self._lock:
                self._flight = None
                if value is not None:
                    self._value, self._started_at = value, started
                    self.computations += 1
            if value is None:
                flight.set_exception(RuntimeError("the health snapshot failed"))
            else:
                flight.set_result(value)


class Prober:
    """Outbound checks, run in a background thread at most once per ``interval`` seconds.

    Requests read the last results at once (with their time, ``details.checked_at``); a
    request that finds a round due starts it and does not wait for it. Before the first round
    has finished each probe says so (``warning``, "not probed yet").
    """

    def __init__(
        self,
        probes: dict[str, Check],
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.probes = probes
        self.interval = interval
        self.rounds = 0
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._results: dict[str, tuple[Component, float, float]] = {}  # result, clock, wall
        self._round_started: float | None = None
        self._running = False

    def latest(self) -> dict[str, Component]:
        """Each probe's last result; starts a round in the background when one is due."""
        with self._lock:
            now = self._clock()
            due = self._due(now)
            if due:
                self._running, self._round_started = True, now
            results = dict(self._results)
        if due:
            threading.Thread(target=self._round, name="health-probes", daemon=True).start()
        return {name: self._aged(results.get(name), now) for name in self.probes}

    def _due(self, now: float) -> bool:
        if not self.probes or self._running:
            return False
        return self._round_started is None or now - self._round_started >= self.interval

    def _round(self) -> None:
        try:
            for name, probe in self.probes.items():
                result = timed(probe)
                with self._lock:
                    self._results[name] = (result, self._clock(), self._wall_clock())
        finally:
            with self._lock:
                self._running = False
                self.rounds += 1

    def _aged(self, entry: tuple[Component, float, float] | None, now: float) -> Component:
        interval = {"probe_interval_seconds": self.interval}
        if entry is None:
            details = {"checked_at": None, **interval}
            return component(
                "warning", "not probed yet: the first check is running", details=details
            )
        result, at, wall = entry
        age = {"checked_at": iso(wall), "age_seconds": round(max(0.0, now - at), 1), **interval}
        return {**result, "details": {**result.get("details", {}), **age}}


class HealthMonitor:
    """The components of ``/api/health/full``: the cached local snapshot plus the last probes."""

    def __init__(self, snapshots: SnapshotCache, prober: Prober) -> None:
        self.snapshots = snapshots
        self.prober = prober

    @classmethod
    def of_service(
        cls,
        settings: Settings,
        store: JobStore,
        uploads: Storage,
        terminal: TerminalCounts,
        next_reaper_run: Callable[[], float | None],
    ) -> HealthMonitor:
        local, probes = service_checks(settings, store, uploads, terminal, next_reaper_run)
        return cls(
            SnapshotCache(local, settings.health_cache_seconds),
            Prober(probes, settings.health_probe_interval_seconds),
        )

    async def components(self) -> dict[str, Component]:
        local = await self.snapshots.get()
        merged = local | self.prober.latest()
        return {name: merged[name] for name in COMPONENTS if name in merged}
