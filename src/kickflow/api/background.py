"""The service's reaper loop: a stuck-job check every ``KICKFLOW_REAPER_INTERVAL_SECONDS``.

The reaper itself is the store's (``JobStore.reap``, safe on every node at once); this only
schedules it in the API process so that ``kickflow serve --workers 0`` still recovers jobs.
"""

from __future__ import annotations

import threading
import time

from kickflow.cli.errors import describe
from kickflow.jobs import JobStore
from kickflow.worker import logs


class ReaperLoop:
    """A daemon thread calling ``store.reap()`` until stopped; failures are logged, not fatal."""

    def __init__(self, store: JobStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._next_run: float | None = None
        self._thread = threading.Thread(target=self._run, name="kickflow-reaper", daemon=True)

    def start(self) -> ReaperLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def run_once(self) -> None:
        try:
            result = self.store.reap()
        except Exception as exc:  # the runbook greps for this exact line
            logs.stuck_check_failed(describe(exc))
            return
        if result.total:
            logs.info(
                "reaped",
                worker="service",
                requeued=len(result.requeued),
                failed=len(result.failed),
                jobs=",".join(result.requeued + result.failed + result.cancelled + result.paused),
            )

    def seconds_to_next_run(self) -> float | None:
        """When this process's next pass is due (None before the first one)."""
        if self._next_run is None:
            return None
        return max(0.0, self._next_run - time.monotonic())

    def _run(self) -> None:
        while True:
            self.run_once()
            self._next_run = time.monotonic() + self.interval
            if self._stop.wait(self.interval):
                return
