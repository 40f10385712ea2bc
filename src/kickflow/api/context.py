"""What the routes share: settings, the job store, upload storage, embedded worker control."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends, Request

from kickflow.api.changes import ChangeFeed
from kickflow.api.health import HealthMonitor, TerminalCounts
from kickflow.config import Settings
from kickflow.jobs import JobStore
from kickflow.storage import Storage


class WorkerControl(Protocol):
    """The embedded worker slots of `kickflow serve` (absent with --workers 0)."""

    def trigger(self) -> dict[str, object]:
        """Wake idle slots and restart dead or hung ones; returns what was done."""
        ...


class ReaperSchedule(Protocol):
    """The reaper loop of this API process."""

    def seconds_to_next_run(self) -> float | None: ...


@dataclass
class Services:
    """Long-lived objects of one API process."""

    settings: Settings
    store: JobStore
    storage: Storage
    workers: WorkerControl | None = None
    reaper: ReaperSchedule | None = None
    terminal_counts: TerminalCounts = field(default_factory=TerminalCounts)
    health: HealthMonitor = field(init=False)
    changes: ChangeFeed = field(init=False)  # the event streams' shared polls

    def __post_init__(self) -> None:
        self.changes = ChangeFeed(self.store)
        self.health = HealthMonitor.of_service(
            self.settings, self.store, self.storage, self.terminal_counts, self._next_reaper_run
        )

    def _next_reaper_run(self) -> float | None:
        return self.reaper.seconds_to_next_run() if self.reaper else None


async def services(request: Request) -> Services:
    """FastAPI dependency: the app's services (async: reading app state needs no pool thread)."""
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(services)]
