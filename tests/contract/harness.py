"""What a contract test gets: :class:`ContractStore`, and the time hooks that make a lease
expire, progress stall or a backoff end on every backend without waiting for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kickflow.config import Settings
from kickflow.jobs import Claimed, Job, JobState, JobStore, Lease, WorkerPort
from kickflow.jobs.db import write_tx
from kickflow.jobs.schema import jobs as jobs_table
from kickflow.jobs.sqlfuncs import db_now
from tests.fakes import FakeJobStore

WAIT_S = 10.0
POLL_S = 0.02


class TimeControl(Protocol):
    """Moves one job's times, as if the time had passed for it (and for nothing else)."""

    def expire(self, job_id: str) -> None:
        """Its lease ran out a second ago (the worker stopped heartbeating)."""

    def stall(self, job_id: str) -> None:
        """Its progress has not moved for ``stuck_after`` + 1 s; the lease still holds."""

    def make_due(self, job_id: str) -> None:
        """Its ``run_at`` (a delay or a retry backoff) is now."""


class SqlTime:
    """The hooks for a database behind the store under test (a SQL store, or the service an
    HTTP store talks to): an ``UPDATE`` of the job's row with the database clock."""

    def __init__(self, engine: Engine, stuck_after: float) -> None:
        self.engine = engine
        self.stuck_after = stuck_after

    def _update(self, job_id: str, **values: Any) -> None:
        with write_tx(self.engine) as conn:
            conn.execute(sa.update(jobs_table).where(jobs_table.c.id == job_id).values(**values))

    def expire(self, job_id: str) -> None:
        self._update(job_id, lease_expires_at=db_now() - 1.0)

    def stall(self, job_id: str) -> None:
        self._update(job_id, progress_at=db_now() - (self.stuck_after + 1.0))

    def make_due(self, job_id: str) -> None:
        self._update(job_id, run_at=db_now())


class FakeTime:
    """The same hooks for the fake store: the same one-row change on its own clock (the fake's
    ``clock.advance``, which moves every job at once, is exercised by its unit tests)."""

    def __init__(self, store: FakeJobStore) -> None:
        self.store = store

    def _now(self) -> float:
        return self.store.clock.current

    def expire(self, job_id: str) -> None:
        self.store.edit(job_id, lease_expires_at=self._now() - 1.0)

    def stall(self, job_id: str) -> None:
        after = self.store.settings.stuck_after_seconds
        self.store.edit(job_id, progress_at=self._now() - (after + 1.0))

    def make_due(self, job_id: str) -> None:
        self.store.edit(job_id, run_at=self._now())


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(POLL_S)


@dataclass
class ContractStore:
    """One backend as the contract tests see it.

    ``worker`` is the implementation under test for the worker group; ``jobs`` is a full store
    on the same data, for setting up and looking inside (the same object for the fake and the
    SQL stores). ``reconfigure(**settings)`` gives another ContractStore on the same data with
    some settings changed (user group only; None where settings cannot change)."""

    settings: Settings
    jobs: JobStore
    worker: WorkerPort
    org: str
    time: TimeControl
    reconfigure: Callable[..., ContractStore] | None = None

    # --- time -------------------------------------------------------------------------------

    def expire(self, lease: Lease) -> None:
        self.time.expire(lease.job_id)

    def stall(self, lease: Lease) -> None:
        self.time.stall(lease.job_id)

    def make_due(self, job_id: str) -> None:
        self.time.make_due(job_id)

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
        wait_for(what, predicate, timeout)

    def clock_moves_past(self, t: float) -> None:
        """Wait until the store's clock reads later than ``t`` (SQLite's has 1 ms steps)."""
        self.wait_for("the store's clock to move", lambda: self.jobs.now() > t)

    # --- shorthands -------------------------------------------------------------------------

    def with_settings(self, **overrides: Any) -> ContractStore:
        assert self.reconfigure is not None, "this backend cannot change its settings"
        return self.reconfigure(**overrides)

    def add(self, name: str = "a.mov", org: str | None = None, **kw: Any) -> Job:
        """Queue a path job named ``name`` (in ``org``, default the fixture's organisation)."""
        return self.jobs.enqueue(org or self.org, "path", f"/media/{name}", file_name=name, **kw)

    def claim_one(self, worker_id: str = "w1") -> Claimed:
        got = self.worker.claim(worker_id)
        assert len(got) == 1, f"expected one claimed job, got {len(got)}"
        return got[0]

    def state(self, job_id: str) -> JobState:
        return self.jobs.get(None, job_id).state

    def reaped_to(self, job_id: str, state: JobState) -> None:
        """Run reaper passes until the job is in ``state`` (another reaper, such as the
        service's, may get there first: either way is fine)."""

        def done() -> bool:
            self.jobs.reap()
            return self.state(job_id) is state

        self.wait_for(f"the reaper to make job {job_id} {state.value}", done)

    def ids(self, claimed: list[Claimed]) -> set[str]:
        return {c.job.id for c in claimed}
