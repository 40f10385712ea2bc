"""Job changes fanned out to every open event stream: one poll per organisation per process.

Each ``GET /api/qc/events`` used to poll ``store.changed_since`` twice a second on its own, so
200 open dashboards of one organisation meant 400 queries a second and 200 JSON renderings of
every change. Here an organisation's streams share one :class:`OrgPoller` (started by the first
subscriber, stopped when the last one leaves) that polls once per interval, renders each change
once and hands the batch to every :class:`Subscription`.

No gaps, no repeats: a stream subscribes first, then reads its backlog (everything after its
starting point: now, or its ``Last-Event-ID``) with one direct query, then takes the poller's
batches. Whatever the poller fetched before the backlog query is in the backlog; whatever it
fetches afterwards is queued. Each subscription keeps its own high-water mark and takes, from
each batch, only the changes after it: exactly what a stream polling alone would have sent
(several jobs changed in the same statement share a time, so a batch is taken whole or not).

Bounded memory: a subscription holds at most ``max_pending`` changes. A stream that cannot keep
up (a stalled client) is dropped instead: its response ends, and the browser's EventSource
reconnects with ``Last-Event-ID`` and catches up from the backlog.

Everything here runs on the event loop of the process (one loop: uvicorn's); only the store
calls go to worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from kickflow.api import views
from kickflow.errors import KickflowError
from kickflow.jobs import Job, JobStore

log = logging.getLogger("kickflow.api.changes")

POLL_SECONDS = 0.5
PAGE = 500  # changes per query; a full page is followed at once by the next one
MAX_PENDING = 2000  # changes a subscription may hold before it is dropped


def event_id(epoch: float) -> int:
    """The id of a change at ``epoch`` (database time): whole microseconds, rounded down."""
    return max(0, math.floor(epoch * 1_000_000))


def sse(event: str, data: dict[str, Any], event_id: int) -> str:
    """One server-sent event."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"id: {event_id}\nevent: {event}\ndata: {body}\n\n"


@dataclass(frozen=True)
class Change:
    """One job change, rendered once for every stream: ``at`` is the job's ``updated_at``."""

    at: float
    text: str

    @classmethod
    def of(cls, job: Job) -> Change:
        return cls(job.updated_at, sse("job", views.job_summary(job), event_id(job.updated_at)))


@dataclass(eq=False)
class Subscription:
    """One stream's place in its organisation's fan-out."""

    org_id: str
    max_pending: int
    since: float = -math.inf  # the high-water mark: changes at or before it are not sent again
    dropped: bool = False
    _pending: deque[Sequence[Change]] = field(default_factory=deque)
    _count: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, batch: Sequence[Change]) -> bool:
        """Queue a batch; False (and the subscription is dropped) when it would hold too many."""
        if self._count + len(batch) > self.max_pending:
            self.drop()
            return False
        self._pending.append(batch)
        self._count += len(batch)
        self._wake.set()
        return True

    def drop(self) -> None:
        self.dropped = True
        self._pending.clear()
        self._count = 0
        self._wake.set()

    def take(self, batch: Sequence[Change]) -> list[Change]:
        """The changes of ``batch`` after the high-water mark, which moves past them."""
        fresh = [c for c in batch if c.at > self.since]
        if fresh:
            self.since = max(c.at for c in fresh)
        return fresh

    async def next_changes(self, timeout: float) -> list[Change]:
        """What arrived since the last call, waiting up to ``timeout`` for something ([] then)."""
        if not self._pending and not self.dropped:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        out: list[Change] = []
        while self._pending:
            out += self.take(self._pending.popleft())
        self._count = 0
        return out


@dataclass(eq=False)
class OrgPoller:
    """The one poll loop of an organisation: ``cursor`` is the newest change it has seen."""

    org_id: str
    cursor: float
    subscribers: set[Subscription] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class ChangeFeed:
    """The fan-out of one process (see the module docstring)."""

    def __init__(
        self,
        store: JobStore,
        *,
        interval: float = POLL_SECONDS,
        page: int = PAGE,
        max_pending: int = MAX_PENDING,
        render: Callable[[Job], Change] = Change.of,
    ) -> None:
        self.store = store
        self.interval = interval
        self.page = page
        self.max_pending = max_pending
        self.render = render
        self.pollers: dict[str, OrgPoller] = {}

    def subscribe(self, org_id: str, start: float) -> Subscription:
        """Join ``org_id``'s fan-out; ``start`` (store time, at most now) is where a poller
        started for this subscription begins. Synchronous: nothing is missed in between."""
        sub = Subscription(org_id, self.max_pending)
        poller = self.pollers.get(org_id)
        if poller is None:
            poller = self.pollers[org_id] = OrgPoller(org_id, start)
            poller.task = asyncio.get_running_loop().create_task(
                self._run(poller), name=f"kf-changes-{org_id}"
            )
        poller.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Leave the fan-out; the last subscriber of an organisation stops its poller."""
        poller = self.pollers.get(sub.org_id)
        if poller is None:
            return
        poller.subscribers.discard(sub)
        if not poller.subscribers:
            self._stop(poller)

    def _stop(self, poller: OrgPoller) -> None:
        if self.pollers.get(poller.org_id) is poller:
            del self.pollers[poller.org_id]
        if poller.task is not None:
            poller.task.cancel()

    async def backlog(self, sub: Subscription, since: float) -> list[Change]:
        """Every change after ``since`` up to now, straight from the store (then the
        subscription's high-water mark is past them all)."""
        sub.since = max(sub.since, since)
        out: list[Change] = []
        while True:
            jobs = await anyio.to_thread.run_sync(self._changed, sub.org_id, sub.since)
            out += sub.take([self.render(j) for j in jobs])
            if len(jobs) < self.page:
                return out

    def _changed(self, org_id: str, since: float) -> list[Job]:
        return self.store.changed_since(org_id, since, self.page)

    async def _run(self, poller: OrgPoller) -> None:
        while True:
            await anyio.sleep(self.interval)
            try:
                await self._poll(poller)
            except KickflowError as exc:  # the database is away: the streams wait, quietly
                log.warning("change feed of %s: %s", poller.org_id, exc.message)
            except Exception:  # a bug must not leave every stream of the organisation silent
                log.exception("change feed of %s failed; polling on", poller.org_id)

    async def _poll(self, poller: OrgPoller) -> None:
        while True:
            jobs = await anyio.to_thread.run_sync(self._changed, poller.org_id, poller.cursor)
            if jobs:
                poller.cursor = max(poller.cursor, *(j.updated_at for j in jobs))
                self._dispatch(poller, tuple(self.render(j) for j in jobs))
            if len(jobs) < self.page:
                return

    def _dispatch(self, poller: OrgPoller, batch: tuple[Change, ...]) -> None:
        for sub in list(poller.subscribers):
            if not sub.offer(batch):
                log.info("change feed of %s: a stream fell behind and was dropped", sub.org_id)
                poller.subscribers.discard(sub)
        if not poller.subscribers:
            self._stop(poller)
