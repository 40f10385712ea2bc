"""The job store as a port: what workers, the API and the CLI may ask of it.

Implementations: :class:`~kickflow.jobs.store.SqlJobStore` (SQLite/PostgreSQL), the service's
worker protocol client :class:`~kickflow.worker.remote.HttpWorkerStore` (worker side only: a
worker talking to ``kickflow serve``), and the in-memory fake in ``tests/fakes`` for unit tests.
Nothing above ``kickflow.jobs`` touches SQLAlchemy; everything goes through these methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kickflow.config import Settings
from kickflow.jobs.models import Claimed, HeartbeatReply, Job, Lease, ReapResult, WorkerInfo


class WorkerPort(Protocol):
    """The worker side: claim, heartbeat and the fenced final writes, plus the registry.

    Every fenced call raises :class:`~kickflow.errors.LeaseLost` when the lease is no longer
    the caller's; transient trouble (database or network) raises a transient KickflowError.
    """

    settings: Settings

    @property
    def runs_reaper(self) -> bool:
        """Whether a worker on this store should run reaper passes itself (False when the
        service it talks to runs the reaper)."""
        ...

    def close(self) -> None: ...

    def claim(self, worker_id: str, limit: int = 1) -> list[Claimed]: ...

    def heartbeat(self, lease: Lease, progress: float, phase: str) -> HeartbeatReply: ...

    def complete(self, lease: Lease, verdict: str, report: dict[str, Any]) -> Job: ...

    def complete_many(self, results: Sequence[tuple[Lease, str, dict[str, Any]]]) -> list[bool]: ...

    def fail(self, lease: Lease, code: str, message: str, *, permanent: bool) -> Job: ...

    def release(self, lease: Lease, reason: str = "worker shutting down") -> Job: ...

    def acknowledge_cancel(self, lease: Lease, message: str = "cancelled on request") -> Job: ...

    def acknowledge_pause(self, lease: Lease, message: str = "paused on request") -> Job: ...

    def register_worker(
        self, worker_id: str, hostname: str, pid: int, concurrency: int
    ) -> None: ...

    def worker_heartbeat(self, worker_id: str, state: str = "running") -> None: ...

    def prune_workers(self, older_than_seconds: float = 86400.0) -> int: ...

    def live_workers(self) -> list[WorkerInfo]: ...

    def reap(self) -> ReapResult: ...
