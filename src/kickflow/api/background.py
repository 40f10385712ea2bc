"""The service's reaper loop: a stuck-job check every ``KICKFLOW_REAPER_INTERVAL_SECONDS``.

The reaper itself is the store's (``JobStore.reap``, safe on every node at once); this only
schedules it in the API process so that ``kickflow serve --workers 0`` still recovers jobs.
"""

from __future__ import annotations

import logging
import threading

from kickflow.jobs import JobStore

log = logging.getLogger("kickflow.reaper")


class ReaperLoop:
    """A daemon thread calling ``store.reap()`` until stopped; failures are logged, not fatal."""

    def __init__(self, store: JobStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
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
            log.error("[QCWorker] Stuck job check failed: %s", exc)
            return
        if result.total:
            log.warning(
                "[QCWorker] reaper recovered %d stuck job(s): requeued=%s failed=%s",
                result.total,
                result.requeued,
                result.failed,
            )

    def _run(self) -> None:
        while True:
            self.run_once()
            if self._stop.wait(self.interval):
                return
