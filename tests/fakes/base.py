"""Plumbing shared by the fake store's two halves: the row helpers over a
:class:`~tests.fakes.tables.FakeDatabase`, each call one transaction."""

from __future__ import annotations

import copy
import dataclasses
import json
from contextlib import AbstractContextManager
from typing import Any

from kickflow.config import Settings
from kickflow.errors import DatabaseError, JobNotFound
from kickflow.jobs import Job, JobEvent, reaper, states
from tests.fakes.clock import FakeClock
from tests.fakes.tables import FakeDatabase, Tables


def as_json_column(report: dict[str, Any]) -> dict[str, Any]:
    """The report as a JSON column gives it back (tuples become lists, keys strings)."""
    try:
        stored: dict[str, Any] = json.loads(json.dumps(report, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise DatabaseError(f"database error: the report is not JSON: {exc}") from exc
    return stored


def copied(job: Job) -> Job:
    """A copy the caller may change without changing the row."""
    return job if job.report is None else dataclasses.replace(job, report=copy.deepcopy(job.report))


class FakeStoreBase:
    """Settings, the shared database, and the helpers every call is written with."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: FakeClock | None = None,
        db: FakeDatabase | None = None,
    ) -> None:
        self.settings = settings or Settings()
        if db is not None and clock is not None and db.clock is not clock:
            raise ValueError("a shared fake database brings its own clock")
        self.db = db or FakeDatabase(clock)
        self.clock = self.db.clock
        self.closed = False

    @property
    def runs_reaper(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    # --- plumbing ---------------------------------------------------------------------------

    def _tx(self, method: str, *args: Any) -> AbstractContextManager[float]:
        return self.db.transaction(method, args)

    @property
    def _t(self) -> Tables:
        return self.db.tables

    def _find(self, org_id: str | None, job_id: str) -> Job:
        job = self._t.jobs.get(job_id)
        if job is None or (org_id is not None and job.org_id != org_id):
            raise JobNotFound(f"no job {job_id}")
        return job

    def _scoped(self, org_id: str | None) -> list[Job]:
        return [j for j in self._t.jobs.values() if org_id is None or j.org_id == org_id]

    def _put(self, job: Job) -> Job:
        self._t.jobs[job.id] = job
        return job

    def _move(self, job: Job, action: str, now: float, **values: Any) -> Job:
        """Apply ``action`` through the state machine (IllegalTransition when not allowed)."""
        target = states.check(action, job.state)
        return self._put(dataclasses.replace(job, state=target, updated_at=now, **values))

    def _append(self, **fields: Any) -> None:
        t = self._t
        t.last_event_id += 1
        event = JobEvent(id=t.last_event_id, **fields)
        t.events.append(event)
        if event.kind == "claimed":
            t.served[event.org_id] = event.id

    def _event(
        self,
        job: Job,
        kind: str,
        now: float,
        *,
        to_state: str | None = None,
        from_state: str | None = None,
        code: str | None = None,
        message: str | None = None,
        attempt: int | None = None,
        worker_id: str | None = None,
    ) -> None:
        """One line of history, defaulted from ``job`` as :func:`kickflow.jobs.ops.add_event`."""
        self._append(
            job_id=job.id,
            org_id=job.org_id,
            at=now,
            kind=kind,
            from_state=None if kind == "enqueued" else (from_state or job.state.value),
            to_state=to_state,
            attempt=job.attempt if attempt is None else attempt,
            worker_id=worker_id or job.worker_id,
            code=code,
            message=message,
        )

    def edit(self, job_id: str, **values: Any) -> Job:
        """Test hook: overwrite columns of one job row, nothing else (like a test's UPDATE)."""
        with self._tx("edit", job_id):
            return copied(self._put(dataclasses.replace(self._find(None, job_id), **values)))

    def _set_flag(self, name: str, value: str) -> None:
        with self._tx("set_flag", name, value) as now:
            self._t.flags[name] = (value, now)

    def _flag(self, name: str) -> tuple[str, float] | None:
        with self._tx("get_flag", name):
            return self._t.flags.get(name)

    def _stuck(self, org_id: str | None, now: float) -> list[Job]:
        after = self.settings.stuck_after_seconds
        return [j for j in self._scoped(org_id) if reaper.is_stuck(j, now, after)]
