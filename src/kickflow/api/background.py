"""The service's reaper loop: a stuck-job check every ``KICKFLOW_REAPER_INTERVAL_SECONDS``.

The reaper itself is the store's (``JobStore.reap``, safe on every node at once); this only
schedules it in the API process so that ``kickflow serve --workers 0`` still recovers jobs.
The watch folders of ``KICKFLOW_WATCH_DIRS`` (:mod:`kickflow.watch`) start and stop with it,
and so do the webhook dispatcher (:mod:`kickflow.integrations.webhooks.dispatcher`) and,
when KICKFLOW_GOOGLE_SHEETS_EXPORT is on, the on-completion Sheets export
(:class:`SheetsExportLoop`).
"""

from __future__ import annotations

import threading
import time

from kickflow.cli.errors import describe
from kickflow.integrations.google.sheets_export import SheetsExporter
from kickflow.integrations.webhooks.dispatcher import WebhookDispatcher
from kickflow.jobs import JobStore
from kickflow.watch import service_watch
from kickflow.worker import logs


class ReaperLoop:
    """A daemon thread calling ``store.reap()`` until stopped; failures are logged, not fatal."""

    def __init__(self, store: JobStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._next_run: float | None = None
        self._thread = threading.Thread(target=self._run, name="kickflow-reaper", daemon=True)
        self.watch = service_watch(store)
        self.sheets = sheets_loop(store)
        self.webhooks = webhook_loop(store)

    def start(self) -> ReaperLoop:
        self._thread.start()
        if self.watch:
            self.watch.start()
        if self.sheets:
            self.sheets.start()
        if self.webhooks:
            self.webhooks.start()
        return self

    def stop(self) -> None:
        if self.watch:
            self.watch.stop()
        if self.sheets:
            self.sheets.stop()
        if self.webhooks:
            self.webhooks.stop()
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


class SheetsExportLoop:
    """A daemon thread running the on-completion Google Sheets export
    (:meth:`SheetsExporter.export_finished`) every ``interval``; failures are logged."""

    def __init__(self, exporter: SheetsExporter, interval: float) -> None:
        self.exporter = exporter
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kickflow-sheets", daemon=True)

    def start(self) -> SheetsExportLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def run_once(self) -> None:
        try:
            rows = self.exporter.export_finished()
        except Exception as exc:  # a database hiccup: the next pass tries again
            logs.warning("sheets_export_failed", worker="service", reason=describe(exc))
            return
        if rows:
            logs.info("sheets_exported", worker="service", rows=rows)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()


def sheets_loop(store: JobStore) -> SheetsExportLoop | None:
    """The on-completion Sheets export of this service, when KICKFLOW_GOOGLE_SHEETS_EXPORT is on."""
    settings = store.settings
    if not settings.google_sheets_export:
        return None
    return SheetsExportLoop(
        SheetsExporter(store, settings), settings.google_sheets_interval_seconds
    )


def webhook_loop(store: JobStore) -> WebhookDispatcher | None:
    """This service's webhook dispatcher (None with KICKFLOW_WEBHOOKS_ENABLED=false)."""
    settings = store.settings
    return WebhookDispatcher(store, settings) if settings.webhooks_enabled else None
