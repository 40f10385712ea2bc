"""Embedded worker slots of ``kickflow serve``: N ``kickflow worker`` child processes.

Processes, not threads: a slot that hangs or is frozen can be killed and replaced without
touching the API, and FFmpeg's memory stays out of the server. Dead slots are restarted
automatically; ``trigger()`` (the runbook's ``trigger_worker``) also replaces hung ones — a slot
whose job is stuck (its lease expired while the process lives on), or whose worker has not
heartbeated in the registry for a while.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kickflow.config import Settings
from kickflow.jobs import JobStore

log = logging.getLogger("kickflow.slots")
WATCH_SECONDS = 2.0


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes]
    started: float


class WorkerSlots:
    """Starts, watches and replaces the worker child processes."""

    def __init__(self, count: int, settings: Settings, store: JobStore, log_file: Path) -> None:
        self.count = count
        self.settings = settings
        self.store = store
        self.log_file = log_file
        self.slots: list[Slot] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._log: IO[bytes] | None = None
        self._watcher = threading.Thread(target=self._watch, name="kickflow-slots", daemon=True)

    @property
    def hung_after(self) -> float:
        """Seconds without a registry heartbeat after which a live slot counts as hung."""
        return max(3 * self.settings.heartbeat_seconds, 5.0) + 5.0

    def command(self) -> list[str]:
        return [sys.executable, "-m", "kickflow", "worker", "--concurrency", "1"]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KICKFLOW_DATA_DIR"] = str(self.settings.data_dir.resolve())
        env["KICKFLOW_DATABASE_URL"] = self.settings.resolved_database_url()
        return env

    def _spawn(self, index: int) -> Slot:
        process = subprocess.Popen(
            self.command(),
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        log.info("worker slot %d started (pid %d)", index, process.pid)
        return Slot(index, process, time.monotonic())

    def start(self) -> WorkerSlots:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab", buffering=0)
        with self._lock:
            self.slots = [self._spawn(i) for i in range(self.count)]
        self._watcher.start()
        return self

    def stop(self) -> None:
        """SIGTERM every slot (graceful: jobs finish or are released), SIGKILL after the grace."""
        self._stop.set()
        with self._lock:
            for slot in self.slots:
                _signal(slot.process, signal.SIGCONT)
                _signal(slot.process, signal.SIGTERM)
            deadline = time.monotonic() + self.settings.shutdown_grace_seconds + 5
            for slot in self.slots:
                _wait_or_kill(slot.process, deadline)
        if self._log:
            self._log.close()

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            with self._lock:
                for slot in list(self.slots):
                    if slot.process.poll() is not None and not self._stop.is_set():
                        self._replace(slot, f"exited with code {slot.process.returncode}")

    def _replace(self, slot: Slot, why: str) -> str:
        if slot.process.poll() is None:
            _signal(slot.process, signal.SIGKILL)
            slot.process.wait(timeout=10)
        self.slots[slot.index] = self._spawn(slot.index)
        message = f"slot {slot.index} (pid {slot.process.pid}) {why}: restarted"
        log.warning("[QCWorker] %s as pid %d", message, self.slots[slot.index].process.pid)
        return message

    def _hung(self, slot: Slot, live_pids: set[int]) -> bool:
        old_enough = time.monotonic() - slot.started > self.hung_after
        return old_enough and slot.process.pid not in live_pids

    def trigger(self) -> dict[str, object]:
        """Restart dead and hung slots; report each slot's state."""
        hostname = os.uname().nodename
        live = {w.id: w.pid for w in self.store.live_workers() if w.hostname == hostname}
        wedged = {live[j.worker_id] for j in self.store.stuck_jobs() if j.worker_id in live}
        actions: list[str] = []
        with self._lock:
            for slot in list(self.slots):
                if slot.process.poll() is not None:
                    actions.append(self._replace(slot, f"had exited ({slot.process.returncode})"))
                elif slot.process.pid in wedged:
                    actions.append(self._replace(slot, "was hung (its job is stuck)"))
                elif self._hung(slot, set(live.values())):
                    actions.append(self._replace(slot, "was hung (no heartbeat)"))
            states = [
                {"slot": s.index, "pid": s.process.pid, "alive": s.process.pid in live.values()}
                for s in self.slots
            ]
        message = "; ".join(actions) or "all worker slots alive; idle workers poll for new jobs"
        return {"restarted": actions, "slots": states, "message": message}


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)


def _wait_or_kill(process: subprocess.Popen[bytes], deadline: float) -> None:
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _signal(process, signal.SIGKILL)
        process.wait(timeout=10)
