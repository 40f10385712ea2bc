"""Component checks behind ``GET /api/health/full`` (the runbook's first command).

Each check returns ``{status: ok|warning|error|not_configured, message?, latency_ms?, details?}``
and never raises; nothing in here is tenant data or a secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import sqlalchemy as sa

from kickflow.api import queries
from kickflow.api.views import iso
from kickflow.errors import KickflowError
from kickflow.jobs.db import read_tx
from kickflow.jobs.store import JobStore
from kickflow.media.binaries import binary_version, find_ffmpeg
from kickflow.storage import UploadStorage

Component = dict[str, Any]
GROQ_TIMEOUT_S = 2.0
STORAGE_WARN_BYTES = 1024**3
STORAGE_ERROR_BYTES = 256 * 1024**2
TERMINAL_TTL_S = 5.0
SEVERITY = {"ok": 0, "not_configured": 0, "warning": 1, "error": 2}


def component(status: str, message: str | None = None, **extra: Any) -> Component:
    out: Component = {"status": status}
    if message:
        out["message"] = message
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def timed(check: Callable[[], Component]) -> Component:
    """Run a check, adding ``latency_ms`` and turning any exception into ``error``."""
    start = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a health check reports every failure, it never raises
        message = exc.message if isinstance(exc, KickflowError) else f"{type(exc).__name__}: {exc}"
        result = component("error", message)
    result.setdefault("latency_ms", round((time.perf_counter() - start) * 1000, 1))
    return result


def database(store: JobStore) -> Component:
    with read_tx(store.engine) as conn:
        conn.execute(sa.text("SELECT 1"))
    return component("ok", f"{store.engine.dialect.name} reachable")


def storage(uploads: UploadStorage) -> Component:
    free = uploads.free_bytes()
    details = {"free_bytes": free, "free_gb": round(free / 1024**3, 2)}
    if free < STORAGE_ERROR_BYTES:
        return component("error", "less than 256 MB free for uploads", details=details)
    if free < STORAGE_WARN_BYTES:
        return component("warning", "less than 1 GB free for uploads", details=details)
    return component("ok", f"{details['free_gb']} GB free", details=details)


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
                with read_tx(store.engine) as conn:
                    self._value = queries.state_counts(conn, queries.TERMINAL_VALUES)
                self._at = time.monotonic()
            return dict(self._value)


def fresh_counts(store: JobStore, terminal: TerminalCounts) -> dict[str, int]:
    """Active states and stuck now, terminal states from the short cache."""
    with read_tx(store.engine) as conn:
        counts = queries.state_counts(conn, queries.ACTIVE_VALUES)
        counts["stuck"] = queries.stuck_count(conn, store.settings.stuck_after_seconds)
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
    details = {"binary": binary.path, "source": binary.source, "version": version}
    return component("ok", f"FFmpeg {version}", details=details)


def groq_api(api_key: str, base_url: str) -> Component:
    if not api_key:
        return component("not_configured", "KICKFLOW_GROQ_API_KEY is not set")
    url = base_url.rstrip("/") + "/models"
    try:
        reply = httpx.get(
            url, headers={"Authorization": f"Bearer {api_key}"}, timeout=GROQ_TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        return component("error", f"Groq API unreachable: {type(exc).__name__}")
    if reply.status_code == 401:
        return component("error", "Groq API refused the key (401): check KICKFLOW_GROQ_API_KEY")
    if reply.status_code != 200:
        return component("error", f"Groq API answered HTTP {reply.status_code}")
    return component("ok", "Groq API reachable", details={"models": _model_count(reply)})


def _model_count(reply: httpx.Response) -> int | None:
    try:
        data = reply.json().get("data")
    except (ValueError, AttributeError):
        return None
    return len(data) if isinstance(data, list) else None


def google_oauth(client_id: str) -> Component:
    if not client_id:
        return component("not_configured", "KICKFLOW_GOOGLE_CLIENT_ID is not set")
    return component("ok", "Google OAuth client configured")


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
