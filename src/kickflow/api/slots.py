"""Embedded worker slots of ``kickflow serve``: N one-slot worker child processes
(:mod:`kickflow.api.slot_main`).

Processes, not threads: a slot that hangs or is frozen can be killed and replaced without
touching the API, and FFmpeg's memory stays out of the server. Dead slots are restarted
automatically; ``trigger()`` (the runbook's ``trigger_worker``) also replaces hung ones — a slot
whose job is stuck (its lease expired while the process lives on), or whose worker has not
heartbeated in the registry for a while. Scoped to an organisation (an organisation's admin),
it replaces only live slots that hold no job of another organisation; dead slots are always
replaced and idle slots always woken, which touches nobody's job.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kickflow.config import Settings
from kickflow.jobs import Job, JobStore
from kickflow.jobs.accounts import IssuedToken

log = logging.getLogger("kickflow.slots")
TOKEN_NAME_PREFIX = "embedded worker slots of "  # noqa: S105 - a token name, not a secret
WATCH_SECONDS = 2.0
RUNNING_PAGE, MAX_RUNNING_PAGES = 200, 50


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes]
    started: float


@dataclass(frozen=True)
class SlotHealth:
    """What the registry and the job table say about this host's worker processes, by pid."""

    registered: set[int]
    live: set[int]
    wedged: set[int]  # holding a stuck job
    job_orgs: dict[int, set[str]] = field(default_factory=dict)  # orgs of its running jobs


def may_replace(scope: str | None, job_orgs: set[str]) -> bool:
    """Whether a caller acting for ``scope`` (None: an operator, every organisation) may kill
    a live slot whose running jobs belong to ``job_orgs``: only when they are all its own."""
    return scope is None or job_orgs <= {scope}


class WorkerSlots:
    """Starts, watches and replaces the worker child processes."""

    def __init__(
        self,
        count: int,
        settings: Settings,
        store: JobStore,
        log_file: Path,
        *,
        server_url: str,
        token: str,
    ) -> None:
        self.count = count
        self.server_url = server_url
        self.token = token
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
        return [sys.executable, "-m", "kickflow.api.slot_main"]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KICKFLOW_DATA_DIR"] = str(self.settings.data_dir.resolve())
        # The slots reach the database only through the service: no URL, no credentials.
        env.pop("KICKFLOW_DATABASE_URL", None)
        env["KICKFLOW_SERVER_URL"] = self.server_url
        env["KICKFLOW_WORKER_TOKEN"] = self.token
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

    def _running_jobs(self) -> Iterator[Job]:
        """Every running job (all organisations; bounded by the cluster's job slots)."""
        cursor = None
        for _ in range(MAX_RUNNING_PAGES):
            page = self.store.list_jobs(None, state="running", cursor=cursor, limit=RUNNING_PAGE)
            yield from page.jobs
            cursor = page.next_cursor
            if cursor is None:
                return

    def _health(self) -> SlotHealth:
        hostname = os.uname().nodename
        registered = self.store.registered_workers(hostname)
        live = {w.pid for w in self.store.live_workers() if w.hostname == hostname}
        stuck_owners = {j.worker_id for j in self.store.stuck_jobs()}
        wedged = {pid for wid, pid in registered.items() if wid in stuck_owners}
        job_orgs: dict[int, set[str]] = {}
        for job in self._running_jobs():
            pid = registered.get(job.worker_id or "")
            if pid is not None:
                job_orgs.setdefault(pid, set()).add(job.org_id)
        return SlotHealth(set(registered.values()), live, wedged, job_orgs)

    def _verdict(self, slot: Slot, health: SlotHealth) -> str:
        """Why ``slot`` needs replacing, or "" when it is fine."""
        pid = slot.process.pid
        if slot.process.poll() is not None:
            return f"had exited ({slot.process.returncode})"
        if pid in health.wedged:
            return "was hung (its job is stuck)"
        if pid in health.registered and pid not in health.live:
            return "was hung (no heartbeat)"
        if pid not in health.registered and time.monotonic() - slot.started > self.hung_after:
            return "was hung (never registered)"
        return ""

    def trigger(self, org_id: str | None = None) -> dict[str, object]:
        """Restart dead and hung slots, wake the others; report each slot's state.

        With ``org_id`` (an organisation's admin) a live slot is replaced only if it holds no
        job of another organisation (see :func:`may_replace`); None acts on every slot.
        """
        health = self._health()
        actions: list[str] = []
        left: list[str] = []
        with self._lock:
            for slot in list(self.slots):
                why = self._verdict(slot, health)
                alive = slot.process.poll() is None
                if (
                    why
                    and alive
                    and not may_replace(org_id, health.job_orgs.get(slot.process.pid, set()))
                ):
                    left.append(
                        f"slot {slot.index} {why}: left alone, it is busy with a job outside "
                        "your organisation (an operator token can restart it)"
                    )
                elif why:
                    actions.append(self._replace(slot, why))
            # Only registered slots: their SIGUSR1 handler is installed (before registering);
            # a slot still starting up would be killed by the signal's default action.
            ready = [s for s in self.slots if s.process.pid in health.live]
            woken = [s.index for s in ready if _signal(s.process, signal.SIGUSR1)]
            states = [
                {"slot": s.index, "pid": s.process.pid, "alive": s.process.pid in health.live}
                for s in self.slots
            ]
        message = "; ".join(actions + left) or "all worker slots alive"
        message += f"; woke {len(woken)} slot(s) to look for jobs now"
        return {
            "restarted": actions,
            "leftAlone": left,
            "woken": woken,
            "slots": states,
            "message": message,
        }


def loopback_url(host: str, port: int) -> str:
    """Where this host's own slots reach the service that listens on ``host``."""
    if host in {"0.0.0.0", "", "localhost"}:  # noqa: S104 - mapping a bind address to loopback
        return f"http://127.0.0.1:{port}"
    if host == "::":
        return f"http://[::1]:{port}"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _token_owner_alive(name: str | None, hostname: str) -> bool:
    """Whether the ``kickflow serve`` that made the slot token called ``name`` still runs."""
    prefix = f"{TOKEN_NAME_PREFIX}{hostname} pid "
    if not name or not name.startswith(prefix) or not name[len(prefix) :].isdigit():
        return True  # not one of this host's: leave it
    try:
        os.kill(int(name[len(prefix) :]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def embedded_worker_token(store: JobStore, org_id: str) -> IssuedToken:
    """A fresh worker token for this process's slots (revoked when the service stops, or by
    the next start on this host if the service died first). The secret lives only in the
    slots' environment."""
    hostname = os.uname().nodename
    for token in store.list_tokens(org_id):
        if token.revoked_at is None and not _token_owner_alive(token.name, hostname):
            store.revoke_token(token.id)
    name = f"{TOKEN_NAME_PREFIX}{hostname} pid {os.getpid()}"
    return store.create_token(org_id, "worker", name=name)


def _signal(process: subprocess.Popen[bytes], sig: signal.Signals) -> bool:
    """Send ``sig`` if the process still runs; whether it was sent."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
            return True
    return False


def _wait_or_kill(process: subprocess.Popen[bytes], deadline: float) -> None:
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _signal(process, signal.SIGKILL)
        process.wait(timeout=10)
