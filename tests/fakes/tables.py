"""The fake store's "database": plain dicts of rows and the event list, one lock, one clock.

Rows are the product's own frozen dataclasses (:class:`~kickflow.jobs.Job`,
:class:`~kickflow.jobs.JobEvent`, :class:`~kickflow.jobs.WorkerInfo`), so a change is a
``dataclasses.replace`` and a snapshot is a shallow copy: that is how a failing call rolls
back everything it wrote, as a database transaction would.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from kickflow.errors import DatabaseError
from kickflow.integrations.google.types import ConnectionSecrets, GoogleConnection
from kickflow.jobs import Job, JobEvent, OrgProfile, TokenInfo, WorkerInfo
from kickflow.jobs.sheet_exports import SheetExport
from tests.fakes.clock import FakeClock
from tests.fakes.people_rows import FailureRow, InvitationRow, MembershipRow, SessionRow, UserRow


@dataclass(frozen=True)
class Org:
    """One organisation row."""

    id: str
    name: str
    max_running: int | None
    created_at: float


@dataclass(frozen=True)
class Token:
    """One API token row: what may be shown (``info``) and the stored hash of its secret."""

    info: TokenInfo
    sha256: str


@dataclass(frozen=True)
class Call:
    """One call of a store method, as recorded in :attr:`FakeDatabase.calls`; ``at`` is the
    real ``time.monotonic()`` of the call (for cadence checks), not the fake clock."""

    name: str
    args: tuple[Any, ...]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Tables:
    """Every row. ``jobs`` keeps insertion order, which breaks ties as SQLite's rowid does."""

    jobs: dict[str, Job] = field(default_factory=dict)
    events: list[JobEvent] = field(default_factory=list)
    orgs: dict[str, Org] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)  # by token id
    workers: dict[str, WorkerInfo] = field(default_factory=dict)
    flags: dict[str, tuple[str, float]] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)  # org id -> newest "claimed" event id
    org_profiles: dict[tuple[str, str], OrgProfile] = field(default_factory=dict)  # (org, name)
    org_usage: dict[tuple[str, str], float] = field(default_factory=dict)  # (org, day) -> s
    users: dict[str, UserRow] = field(default_factory=dict)
    memberships: dict[tuple[str, str], MembershipRow] = field(default_factory=dict)  # (user, org)
    web_sessions: dict[str, SessionRow] = field(default_factory=dict)
    invitations: dict[str, InvitationRow] = field(default_factory=dict)
    sign_in_failures: list[FailureRow] = field(default_factory=list)
    # by connection id: the row without its tokens, and its (encrypted) tokens
    google_connections: dict[str, tuple[GoogleConnection, ConnectionSecrets]] = field(
        default_factory=dict
    )
    sheet_exports: dict[tuple[str, str], SheetExport] = field(default_factory=dict)
    # webhooks: rows as column dicts, replaced (never changed in place) so a copy snapshots
    webhook_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_event_id: int = 0

    def copy(self) -> Tables:
        """Every table shallow-copied (rows are frozen, so that is a snapshot)."""
        return Tables(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})


class FakeDatabase:
    """What several fake stores (different settings, like several processes on one database)
    may share: the tables, the clock, the lock, the call log and the injected faults."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.lock = threading.RLock()
        self.tables = Tables()
        self.calls: list[Call] = []
        self._faults: dict[str, list[BaseException]] = {}
        self._depth = 0

    def fail_next(self, method: str, error: BaseException | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error`` (default: a transient
        DatabaseError) before they change anything."""
        fault = error or DatabaseError("database error: injected by the test (fake store)")
        with self.lock:
            self._faults.setdefault(method, []).extend([fault] * times)

    def calls_of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.name == method]

    @contextmanager
    def transaction(self, method: str, args: tuple[Any, ...]) -> Iterator[float]:
        """One call: under the lock, recorded, maybe failed on purpose, rolled back when it
        raises; yields its one clock reading (the statement time)."""
        with self.lock:
            self.calls.append(Call(method, args))
            faults = self._faults.get(method)
            if faults:
                raise faults.pop(0)
            if self._depth:  # nested in a call of this thread: part of that transaction
                yield self.clock()
                return
            snapshot = self.tables.copy()
            self._depth += 1
            try:
                yield self.clock()
            except BaseException:
                self.tables = snapshot
                raise
            finally:
                self._depth -= 1
