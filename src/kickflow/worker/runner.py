"""The worker process: N job slots (threads; the work happens in FFmpeg child processes), one
claimer that fetches as many jobs as there are free slots in one call (a batch claim), a
housekeeping thread for the registry heartbeat and the reaper, and graceful shutdown."""

from __future__ import annotations

import os
import queue
import random
import secrets
import signal
import socket
import threading
import time
from collections import Counter
from types import FrameType

from kickflow.cli.errors import describe
from kickflow.config import Settings
from kickflow.errors import KickflowError, LeaseLost
from kickflow.jobs import Claimed, WorkerPort
from kickflow.worker import logs
from kickflow.worker.pipeline import (
    AttemptContext,
    JobFiles,
    QCEngine,
    default_engine,
    run_attempt,
)
from kickflow.worker.tempdirs import clean_stale

HOUSEKEEPING_TICK_S = 0.2
HANDOFF_WAIT_S = 0.5


def new_worker_id() -> str:
    """Unique per process start, so a restarted worker never inherits old leases."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Worker:
    """Claims and runs jobs until stopped; ``run()`` adds SIGTERM/SIGINT handling."""

    def __init__(
        self,
        store: WorkerPort,
        settings: Settings | None = None,
        *,
        concurrency: int | None = None,
        engine: QCEngine | None = None,
        worker_id: str | None = None,
        inputs: JobFiles | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or store.settings
        self.concurrency = concurrency or self.settings.worker_concurrency
        self.id = worker_id or new_worker_id()
        self.outcomes: Counter[str] = Counter()
        self._release = threading.Event()
        self._ctx = AttemptContext(
            store, self.settings, engine or default_engine(), self._release, inputs
        )
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._signalled = threading.Event()
        self._housekeeping_done = threading.Event()
        self._lock = threading.Lock()
        self._active: dict[int, Claimed] = {}
        self._slots: dict[int, threading.Thread] = {}
        self._housekeeper: threading.Thread | None = None
        self._claimer: threading.Thread | None = None
        self._handoff: queue.SimpleQueue[Claimed] = queue.SimpleQueue()
        self._free = self.concurrency  # slots with no job and no job on its way to them

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Register, clean stale temp dirs, start housekeeping and the job slots."""
        self.store.register_worker(self.id, socket.gethostname(), os.getpid(), self.concurrency)
        self.store.prune_workers()
        live = [w.id for w in self.store.live_workers()]
        for path in clean_stale(self.settings.data_dir, [*live, self.id]):
            logs.info("stale_temp_removed", path=str(path), worker=self.id)
        self._housekeeper = threading.Thread(target=self._housekeeping, name="kf-housekeeping")
        self._housekeeper.daemon = True
        self._housekeeper.start()
        for slot in range(self.concurrency):
            self._start_slot(slot)
        self._claimer = threading.Thread(target=self._claim_loop, name="kf-claimer", daemon=True)
        self._claimer.start()
        logs.info("worker_started", worker=self.id, concurrency=self.concurrency, pid=os.getpid())
        if self.settings.heartbeat_seconds > self.settings.lease_seconds / 3:
            logs.warning(
                "heartbeat_too_slow", worker=self.id,
                advice="keep KICKFLOW_HEARTBEAT_SECONDS at most a third of KICKFLOW_LEASE_SECONDS, "
                "or a busy job can lose its lease",
            )  # fmt: skip

    def _start_slot(self, slot: int) -> None:
        thread = threading.Thread(target=self._slot_loop, args=(slot,), name=f"kf-slot-{slot}")
        thread.daemon = True
        self._slots[slot] = thread
        thread.start()

    def wake(self) -> None:
        """Make idle slots look for work now instead of at their next poll."""
        self._wake.set()

    def restart_dead_slots(self) -> int:
        """Start again any slot thread that died; returns how many were restarted."""
        dead = [s for s, t in self._slots.items() if not t.is_alive()]
        if self._stopping.is_set():
            return 0
        for slot in dead:
            self._start_slot(slot)
        return len(dead)

    def running_jobs(self) -> list[Claimed]:
        with self._lock:
            return list(self._active.values())

    # --- slots ------------------------------------------------------------------------------

    def _slot_loop(self, slot: int) -> None:
        while not self._stopping.is_set():
            try:
                claimed = self._handoff.get(timeout=HANDOFF_WAIT_S)
            except queue.Empty:
                continue
            with self._lock:
                self._active[slot] = claimed
            try:
                self.outcomes[run_attempt(self._ctx, claimed)] += 1
            except Exception as exc:  # a bug must not take the slot down with it
                logs.warning("attempt_crashed", job=claimed.job.id, error=describe(exc))
            finally:
                with self._lock:
                    self._active.pop(slot, None)
                    self._free += 1
                self._wake.set()  # the claimer fetches the next job for this slot now

    def _claim_loop(self) -> None:
        """Claim as many jobs as there are free slots, in one call, and hand them over."""
        while not self._stopping.is_set():
            with self._lock:
                free = self._free
            got = self._claim(free) if free else []
            if not got:
                if self._wake.wait(self.settings.poll_seconds):
                    self._wake.clear()
                continue
            with self._lock:
                self._free -= len(got)
            for claimed in got:
                self._handoff.put(claimed)

    def _claim(self, limit: int) -> list[Claimed]:
        try:
            got = self.store.claim(self.id, limit)
        except KickflowError as exc:
            logs.warning("claim_failed", worker=self.id, error=exc.message)
            self._stopping.wait(self.settings.poll_seconds)
            return []
        for claimed in got:
            job = claimed.job
            logs.info("claimed", job=job.id, attempt=job.attempt, worker=self.id)
        return got

    # --- housekeeping: registry heartbeat and reaper ----------------------------------------

    def _housekeeping(self) -> None:
        next_beat = 0.0
        next_reap = time.monotonic() + random.random() * self.settings.reaper_interval_seconds  # noqa: S311
        while not self._housekeeping_done.wait(HOUSEKEEPING_TICK_S):
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + self.settings.heartbeat_seconds
                self._beat()
            if now >= next_reap and self.store.runs_reaper:
                next_reap = now + self.settings.reaper_interval_seconds
                self.reap_once()

    def _beat(self) -> None:
        try:
            self.store.worker_heartbeat(
                self.id, "stopping" if self._stopping.is_set() else "running"
            )
        except KickflowError as exc:
            logs.warning("worker_heartbeat_failed", worker=self.id, error=exc.message)

    def reap_once(self) -> None:
        """One reaper pass; a failure is logged with the runbook's sentence, never raised."""
        try:
            result = self.store.reap()
        except Exception as exc:
            logs.stuck_check_failed(describe(exc))
            return
        if result.total:
            logs.info(
                "reaped",
                worker=self.id,
                requeued=len(result.requeued),
                failed=len(result.failed),
                jobs=",".join(result.requeued + result.failed + result.cancelled + result.paused),
            )

    # --- shutdown ---------------------------------------------------------------------------

    def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish within ``grace``, then hand them back."""
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self._stopping.set()
        self._wake.set()
        logs.info("worker_stopping", worker=self.id, running=len(self.running_jobs()), grace=grace)
        self._join_slots(time.monotonic() + grace)
        if self.running_jobs():
            self._release.set()  # raised at the job's next progress report; FFmpeg is killed
            self._join_slots(time.monotonic() + 2 * self.settings.heartbeat_seconds + 2.0)
        if self._claimer is not None:
            self._claimer.join(timeout=self.settings.poll_seconds + 5.0)
        self._force_release()
        self._housekeeping_done.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5.0)
        try:
            self.store.worker_heartbeat(self.id, "stopped")
        except KickflowError as exc:
            logs.warning("worker_heartbeat_failed", worker=self.id, error=exc.message)
        logs.info("worker_stopped", worker=self.id, **dict(self.outcomes))

    def _join_slots(self, deadline: float) -> None:
        for thread in list(self._slots.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _force_release(self) -> None:
        """Jobs whose slot is wedged (no progress reports), and jobs claimed but not started
        when the slots stopped, go back to the queue from here."""
        waiting: list[Claimed] = []
        while True:
            try:
                waiting.append(self._handoff.get_nowait())
            except queue.Empty:
                break
        for claimed in self.running_jobs() + waiting:
            try:
                self.store.release(claimed.lease, "its worker shut down")
                logs.info(
                    "released", job=claimed.job.id, attempt=claimed.lease.attempt, worker=self.id
                )
            except (LeaseLost, KickflowError) as exc:
                logs.warning("release_failed", job=claimed.job.id, error=str(exc))

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._signalled.is_set():
            self._release.set()  # a second signal: hand running jobs back now
        self._signalled.set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT, then shut down gracefully; returns the exit code (0)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.start()
        while not self._signalled.wait(0.5):
            self.restart_dead_slots()
        self.stop()
        return 0
