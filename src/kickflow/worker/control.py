"""The job's progress path: every progress report may heartbeat, and the heartbeat's reply
(lease lost, cancel or pause requested) or a shutdown release is raised right there, which
makes the engine kill FFmpeg's process group (invariant 3: no independent heartbeat timer)."""

from __future__ import annotations

import threading
import time

from kickflow.errors import (
    DatabaseError,
    FileTooLarge,
    JobCancelRequested,
    JobPauseRequested,
    JobReleased,
    LeaseLost,
)
from kickflow.jobs import JobStore, Lease
from kickflow.worker import logs


class JobControl:
    """Progress reporting and stop signals for one attempt."""

    def __init__(
        self, store: JobStore, lease: Lease, heartbeat_seconds: float, release: threading.Event
    ) -> None:
        self.store = store
        self.lease = lease
        self.heartbeat_seconds = heartbeat_seconds
        self.release = release
        self.phase = "initializing"
        self.progress = 0.0
        self._last_beat = 0.0

    def report(self, progress: float, phase: str, *, force: bool = False) -> None:
        """Record progress; heartbeat when due (or ``force``); raise if the job must stop."""
        self.progress, self.phase = max(0.0, min(100.0, progress)), phase
        if self.release.is_set():
            raise JobReleased()
        if not force and time.monotonic() - self._last_beat < self.heartbeat_seconds:
            return
        self._last_beat = time.monotonic()
        try:
            reply = self.store.heartbeat(self.lease, self.progress, phase)
        except DatabaseError as exc:
            # A database hiccup must not kill healthy work: if it lasts, the lease expires
            # and the final write is fenced off.
            logs.warning("heartbeat_failed", job=self.lease.job_id, error=exc.message)
            return
        if not reply.lease_held:
            raise LeaseLost(f"job {self.lease.job_id}: lease lost at {self.progress:.0f}%")
        if reply.cancel_requested:
            raise JobCancelRequested()
        if reply.pause_requested:
            raise JobPauseRequested()

    def on_bytes(self, done: int, total: int | None, max_bytes: int) -> None:
        """Download progress (10–40 %) with the size limit checked on real bytes."""
        if max_bytes and done > max_bytes:
            raise FileTooLarge(_too_large(done, max_bytes, complete=False))
        fraction = done / total if total else 0.0
        self.report(10.0 + 30.0 * min(1.0, fraction), "downloading")

    def on_fraction(self, fraction: float) -> None:
        """Analysis progress (40–95 %) from the engine's FFmpeg progress reader."""
        self.report(40.0 + 55.0 * max(0.0, min(1.0, fraction)), "analyzing")


def _too_large(size: int, max_bytes: int, *, complete: bool) -> str:
    mb, limit = size / 1e6, max_bytes / 1e6
    what = f"the file is {mb:.0f} MB" if complete else f"the file exceeds {mb:.0f} MB"
    return f"{what}, over the {limit:.0f} MB limit (KICKFLOW_MAX_FILE_MB) — not retried"


def too_large_message(size: int, max_bytes: int) -> str:
    return _too_large(size, max_bytes, complete=True)
