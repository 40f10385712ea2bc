"""The job's progress path: every progress report may heartbeat, and the heartbeat's reply
(lease lost, cancel or pause requested) or a shutdown release is raised right there, which
makes the engine kill FFmpeg's process group (invariant 3: no independent heartbeat timer)."""

from __future__ import annotations

import threading
import time

from kickflow.errors import (
    FileTooLarge,
    JobCancelRequested,
    JobPauseRequested,
    JobReleased,
    KickflowError,
    LeaseLost,
)
from kickflow.jobs import Lease, WorkerPort
from kickflow.worker import logs


class JobControl:
    """Progress reporting and stop signals for one attempt."""

    def __init__(
        self,
        store: WorkerPort,
        lease: Lease,
        heartbeat_seconds: float,
        release: threading.Event,
        lease_seconds: float | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        self.heartbeat_seconds = heartbeat_seconds
        self.release = release
        self.phase = "initializing"
        self.progress = 0.0
        self._last_beat = 0.0
        # Without a successful heartbeat for this long the lease has run out (or is about to):
        # the work stops, since whatever it produces would be fenced off.
        lease_s = lease_seconds if lease_seconds is not None else store.settings.lease_seconds
        self.silence_limit = max(lease_s - heartbeat_seconds / 2, heartbeat_seconds)
        self._last_ok = time.monotonic()

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
        except LeaseLost:
            raise
        except KickflowError as exc:
            if exc.permanent:
                raise
            # A database or network hiccup must not kill healthy work, until the silence has
            # lasted as long as the lease: then another worker may own the job already.
            silent = time.monotonic() - self._last_ok
            logs.warning("heartbeat_failed", job=self.lease.job_id, error=exc.message)
            if silent >= self.silence_limit:
                raise LeaseLost(
                    f"job {self.lease.job_id}: no heartbeat accepted for {silent:.0f} s "
                    f"({exc.message}); the lease has run out, stopping"
                ) from exc
            return
        self._last_ok = time.monotonic()
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
