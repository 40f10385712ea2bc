"""``FakeJobStore``: the job store in memory, for unit tests that must run in seconds.

It implements the whole :class:`~kickflow.jobs.JobStore` protocol (mypy checks it:
``_conforms`` at the end) with the rules of :class:`~kickflow.jobs.SqlJobStore`, and returns
the same dataclasses. Where a rule is pure it calls the very function the SQL store calls, so
the two cannot drift: :func:`kickflow.jobs.states.check` for every state change,
:func:`kickflow.jobs.reaper.decide` and :func:`~kickflow.jobs.reaper.is_stuck` for stuck jobs,
:func:`kickflow.jobs.ops.backoff_seconds`, the cursor format of :mod:`kickflow.jobs.queries`,
the name, role and token-hashing rules of :mod:`kickflow.jobs.accounts` (organisations and
tokens: :mod:`tests.fakes.accounts`), the people rules of :mod:`kickflow.jobs.people`
(:mod:`tests.fakes.people`) and the metrics constants of :mod:`kickflow.jobs.stats`
(:mod:`tests.fakes.stats`). ``ping`` answers ``"fake"``. The rest is pinned to the SQL store
by the contract suite (``tests/store_contract.py``), which runs on both.

    clock = FakeClock()
    store = FakeJobStore(settings, clock=clock)
    clock.advance(settings.lease_seconds + 1)   # leases expire, backoffs come due: no waiting

Like a database: every call is one transaction under one lock (thread-safe; a call that
raises leaves nothing behind), with one clock reading as its statement time; reports go
through JSON as in a JSON column (a report that is not JSON fails like a database would).

Test hooks, beyond the port: ``store.db.calls`` / ``calls_of(name)`` (every call, in order),
``store.db.fail_next(name, error, times)`` (inject a fault), :meth:`FakeJobStore.edit` (what a
test's ``UPDATE`` does to a SQL store), :meth:`FakeJobStore.with_settings` (a second store on
the same data, as a second process on the same database).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from kickflow.errors import (
    DatabaseError,
    QueueLimitReached,
    RequestInvalid,
)
from kickflow.jobs import (
    ACTIVE,
    DEFAULT_PROFILE,
    BulkResult,
    Job,
    JobEvent,
    JobHistory,
    JobInputs,
    JobState,
    JobStore,
    NewJob,
    Page,
    bulk,
    queries,
    reaper,
)
from kickflow.jobs.bulk import BulkOperations
from kickflow.jobs.claim import PAUSE_FLAG
from kickflow.jobs.listing import JobFilter
from kickflow.jobs.ops import cleared_lease
from kickflow.jobs.queue import queue_full_message
from tests.fakes import stats
from tests.fakes.accounts import FakeAccounts
from tests.fakes.base import copied
from tests.fakes.finished import FakeFinishedJobs
from tests.fakes.google_connections import FakeGoogleConnections
from tests.fakes.org_profiles import FakeOrgProfiles, FakeThroughput
from tests.fakes.people import FakePeople
from tests.fakes.sheet_exports import FakeSheetExports
from tests.fakes.usage import FakeUsage
from tests.fakes.webhooks import FakeWebhooks
from tests.fakes.worker_side import FakeWorkerSide

Q, R = JobState.QUEUED, JobState.RUNNING


class FakeJobStore(
    BulkOperations,
    FakeAccounts,
    FakeWorkerSide,
    FakeOrgProfiles,
    FakeThroughput,
    FakeUsage,
    FakeFinishedJobs,
    FakeWebhooks,
    FakeGoogleConnections,
    FakeSheetExports,
    FakePeople,
):
    """The in-memory job store (see the module docstring)."""

    def with_settings(self, **overrides: Any) -> FakeJobStore:
        """Another store on the same data with some settings changed."""
        return FakeJobStore(self.settings.model_copy(update=overrides), db=self.db)

    # --- the global pause -------------------------------------------------------------------

    def pause_queue(self) -> None:
        self._set_flag(PAUSE_FLAG, "1")

    def resume_queue(self) -> None:
        self._set_flag(PAUSE_FLAG, "0")

    def queue_paused(self) -> bool:
        flag = self._flag(PAUSE_FLAG)
        return flag is not None and flag[0] == "1"

    # --- submit -----------------------------------------------------------------------------

    def new_job(
        self,
        org_id: str,
        source_type: str,
        source_ref: str,
        *,
        file_name: str,
        profile: str = DEFAULT_PROFILE,
        project: str | None = None,
        priority: int = 0,
        idempotency_key: str | None = None,
        file_size: int | None = None,
        max_attempts: int | None = None,
        delay_seconds: float = 0.0,
        profile_source: str | None = None,
        inputs: JobInputs | None = None,
    ) -> NewJob:
        return NewJob(
            org_id, source_type, source_ref, file_name, profile,
            max_attempts or self.settings.max_attempts, project, priority, idempotency_key,
            file_size, delay_seconds, profile_source, inputs or JobInputs(),
        )  # fmt: skip

    def enqueue(
        self,
        org_id: str,
        source_type: str,
        source_ref: str,
        *,
        file_name: str,
        profile: str = DEFAULT_PROFILE,
        project: str | None = None,
        priority: int = 0,
        idempotency_key: str | None = None,
        file_size: int | None = None,
        max_attempts: int | None = None,
        delay_seconds: float = 0.0,
        profile_source: str | None = None,
        inputs: JobInputs | None = None,
    ) -> Job:
        new = self.new_job(
            org_id, source_type, source_ref, file_name=file_name, profile=profile,
            project=project, priority=priority, idempotency_key=idempotency_key,
            file_size=file_size, max_attempts=max_attempts, delay_seconds=delay_seconds,
            profile_source=profile_source, inputs=inputs,
        )  # fmt: skip
        with self._tx("enqueue", new) as now:
            existing = self._by_key(new.org_id, new.idempotency_key)
            if existing is not None:
                return copied(existing)
            self._ensure_room(new.org_id, 1)
            return copied(self._insert(new, now, new.idempotency_key))

    def enqueue_many(self, items: Sequence[NewJob]) -> list[Job]:
        with self._tx("enqueue_many", tuple(items)) as now:
            adding = Counter(n.org_id for n in items if not n.idempotency_key)
            keys = {(n.org_id, n.idempotency_key) for n in items if n.idempotency_key}
            adding.update(org for org, key in keys if self._by_key(org, key) is None)
            for org_id, count in sorted(adding.items()):  # all or nothing: check them all first
                self._ensure_room(org_id, count)
            plain = [self._insert(n, now, None) for n in items if not n.idempotency_key]
            fresh = iter(plain)
            return [
                copied(
                    self._by_key(n.org_id, n.idempotency_key)
                    or self._insert(n, now, n.idempotency_key)
                )
                if n.idempotency_key
                else copied(next(fresh))
                for n in items
            ]

    def ensure_queue_room(self, org_id: str, adding: int = 1) -> None:
        with self._tx("ensure_queue_room", org_id, adding):
            self._ensure_room(org_id, adding)

    def _by_key(self, org_id: str, key: str | None) -> Job | None:
        if not key:
            return None
        found = (
            j for j in self._t.jobs.values() if j.org_id == org_id and j.idempotency_key == key
        )
        return next(found, None)

    def _ensure_room(self, org_id: str, adding: int) -> None:
        limit = self.settings.org_max_queued
        queued = sum(1 for j in self._t.jobs.values() if j.org_id == org_id and j.state is Q)
        if queued + adding > limit:
            raise QueueLimitReached(queue_full_message(queued, adding, limit))

    def _insert(self, new: NewJob, now: float, key: str | None) -> Job:
        """Insert a queued job (``key``: its idempotency key as stored; plain rows of a batch
        store None)."""
        if new.org_id not in self._t.orgs:
            raise DatabaseError("database error: FOREIGN KEY constraint failed (no organisation)")
        if key is not None and any(
            j.org_id == new.org_id and j.idempotency_key == key for j in self._t.jobs.values()
        ):
            raise DatabaseError("database error: UNIQUE constraint failed (idempotency key)")
        job = Job(
            id=str(uuid.uuid4()), org_id=new.org_id, project=new.project,
            file_name=new.file_name, file_size=new.file_size, source_type=new.source_type,
            source_ref=new.source_ref, profile=new.profile, profile_source=new.profile_source,
            idempotency_key=key, state=Q, phase=None, progress=0.0,
            progress_at=None, attempt=0, max_attempts=new.max_attempts, lease_losses=0,
            run_at=now + new.delay_seconds, priority=new.priority, lease_token=None,
            lease_expires_at=None, worker_id=None, heartbeat_at=None, cancel_requested=False,
            pause_requested=False, error_code=None, error_message=None, verdict=None,
            report=None, created_at=now, started_at=None, finished_at=None, updated_at=now,
            inputs=new.inputs,
        )  # fmt: skip
        self._put(job)
        self._event(job, "enqueued", now, to_state=Q.value)
        return job

    # --- read -------------------------------------------------------------------------------

    def get(self, org_id: str | None, job_id: str) -> Job:
        with self._tx("get", org_id, job_id):
            return copied(self._find(org_id, job_id))

    def jobs_by_ids(self, org_id: str | None, job_ids: Sequence[str]) -> list[Job]:
        with self._tx("jobs_by_ids", org_id, tuple(job_ids)):
            found = {j.id: j for j in self._scoped(org_id) if j.id in set(job_ids)}
            return [copied(found[i]) for i in dict.fromkeys(job_ids) if i in found]

    def active_job_ids(self, org_id: str | None) -> list[str]:
        with self._tx("active_job_ids", org_id):
            active = [j for j in self._scoped(org_id) if j.state in ACTIVE]
            return [j.id for j in sorted(active, key=lambda j: (j.created_at, j.id))]

    def list_jobs(
        self,
        org_id: str | None,
        *,
        state: str | None = None,
        verdict: str | None = None,
        project: str | None = None,
        profile: str | None = None,
        text: str | None = None,
        created_from: float | None = None,
        created_to: float | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        where = JobFilter(state, verdict, project, profile, text, created_from, created_to)
        with self._tx("list_jobs", org_id, where, cursor, limit):
            rows = [j for j in self._scoped(org_id) if where.matches(j)]
            if cursor:
                after = queries.decode_cursor(cursor)
                rows = [j for j in rows if (j.created_at, j.id) < after]
            rows.sort(key=lambda j: (j.created_at, j.id), reverse=True)
            page = rows[:limit]
            more = len(rows) > limit
            cursor_out = queries.encode_cursor(page[-1]) if more and page else None
            return Page([dataclasses.replace(j, report=None) for j in page], cursor_out)

    def events(self, job_id: str, org_id: str | None = None) -> list[JobEvent]:
        with self._tx("events", job_id, org_id):
            return [
                e
                for e in self._t.events
                if e.job_id == job_id and (org_id is None or e.org_id == org_id)
            ]

    def recent_errors(self, org_id: str | None = None, limit: int = 20) -> list[JobEvent]:
        with self._tx("recent_errors", org_id, limit):
            found = [
                e
                for e in reversed(self._t.events)
                if e.kind in queries.ERROR_KINDS and (org_id is None or e.org_id == org_id)
            ]
            return found[:limit]

    def counts(self, org_id: str | None = None) -> dict[str, int]:
        with self._tx("counts", org_id) as now:
            out = {s.value: 0 for s in JobState}
            for job in self._scoped(org_id):
                out[job.state.value] += 1
            out["stuck"] = len(self._stuck(org_id, now))
            return out

    def state_counts(self, states: Sequence[str]) -> dict[str, int]:
        wanted = [JobState(s) for s in states]
        with self._tx("state_counts", tuple(states)):
            found = Counter(j.state for j in self._t.jobs.values())
            return {s.value: found[s] for s in wanted}

    def stuck_count(self) -> int:
        with self._tx("stuck_count") as now:
            return len(self._stuck(None, now))

    def job_history(
        self, duration_bounds: Sequence[float], attempt_bounds: Sequence[float]
    ) -> JobHistory:
        with self._tx("job_history", tuple(duration_bounds), tuple(attempt_bounds)):
            return stats.history(self._t, duration_bounds, attempt_bounds)

    def ping(self) -> str:
        """One round trip to the "database" (``fail_next("ping")`` makes it unreachable)."""
        with self._tx("ping"):
            return "fake"

    def stuck_jobs(self, org_id: str | None = None, limit: int = 100) -> list[Job]:
        with self._tx("stuck_jobs", org_id, limit) as now:
            found = sorted(self._stuck(org_id, now), key=lambda j: j.started_at or 0.0)
            return [copied(j) for j in found[:limit]]

    def oldest_queued_age(self, org_id: str | None = None) -> float | None:
        with self._tx("oldest_queued_age", org_id) as now:
            run_ats = [j.run_at for j in self._scoped(org_id) if j.state is Q]
            return None if not run_ats else max(0.0, now - min(run_ats))

    def changed_since(self, org_id: str, since: float, limit: int = 500) -> list[Job]:
        with self._tx("changed_since", org_id, since, limit):
            found = [j for j in self._scoped(org_id) if j.updated_at > since]
            found.sort(key=lambda j: j.updated_at)
            return [dataclasses.replace(j, report=None) for j in found[:limit]]

    def now(self) -> float:
        with self._tx("now") as now:
            return float(now)

    # --- control ----------------------------------------------------------------------------

    def _apply(
        self, job: Job, action: str, kind: str, message: str | None, now: float, **values: Any
    ) -> Job:
        """A user-side transition and its event (as :func:`kickflow.jobs.queue.apply`)."""
        new = self._move(job, action, now, **values)
        code = values.get("error_code")
        self._event(
            job,
            kind,
            now,
            to_state=new.state.value,
            message=message,
            code=str(code) if code else None,
        )
        return new

    def _flag_running(self, job: Job, column: str, kind: str, message: str, now: float) -> Job:
        flag: dict[str, Any] = {column: True}
        new = self._put(dataclasses.replace(job, updated_at=now, **flag))
        self._event(job, kind, now, to_state=job.state.value, message=message)
        return new

    def _control(
        self, name: str, org_id: str | None, job_id: str, op: Callable[[Job, float], Job]
    ) -> Job:
        with self._tx(name, org_id, job_id) as now:
            return copied(op(self._find(org_id, job_id), now))

    def _cancel(self, job: Job, reason: str, now: float) -> Job:
        """As :func:`kickflow.jobs.queue.cancel`: a running job is asked, others end now."""
        if job.state is R:
            return self._flag_running(job, "cancel_requested", "cancel_requested", reason, now)
        return self._apply(
            job, "cancel", "cancelled", reason, now, error_code="cancelled",
            error_message=reason, finished_at=now, **cleared_lease(),
        )  # fmt: skip

    def cancel(self, org_id: str | None, job_id: str, reason: str = "cancelled on request") -> Job:
        return self._control("cancel", org_id, job_id, lambda j, now: self._cancel(j, reason, now))

    def pause(self, org_id: str | None, job_id: str) -> Job:
        def op(job: Job, now: float) -> Job:
            if job.state is R:
                return self._flag_running(
                    job, "pause_requested", "pause_requested", "pause requested", now
                )
            return self._apply(job, "pause", "paused", "paused on request", now)

        return self._control("pause", org_id, job_id, op)

    def resume(self, org_id: str | None, job_id: str) -> Job:
        def op(job: Job, now: float) -> Job:
            if job.state is R and job.pause_requested:
                new = self._put(dataclasses.replace(job, pause_requested=False, updated_at=now))
                self._event(
                    job, "resumed", now, to_state=job.state.value, message="pause request withdrawn"
                )
                return new
            return self._apply(
                job, "resume", "resumed", "resumed", now, run_at=now, progress=0.0, phase=None,
                pause_requested=False,
            )  # fmt: skip

        return self._control("resume", org_id, job_id, op)

    def retry(self, org_id: str | None, job_id: str, reason: str = "re-queued on request") -> Job:
        def op(job: Job, now: float) -> Job:
            return self._apply(
                job, "requeue", "requeued", reason, now, attempt=0, lease_losses=0, run_at=now,
                progress=0.0, phase=None, progress_at=None, cancel_requested=False,
                pause_requested=False, error_code=None, error_message=None, verdict=None,
                report=None, finished_at=None, started_at=None, heartbeat_at=None,
                **cleared_lease(),
            )  # fmt: skip

        return self._control("retry", org_id, job_id, op)

    requeue = retry

    def _stuck_control(
        self, name: str, org_id: str | None, job_id: str, op: Callable[[Job, float], Job]
    ) -> Job:
        """``op`` on the job if it is stuck now, decided in the same call."""
        with self._tx(name, org_id, job_id) as now:
            job = self._find(org_id, job_id)
            if not reaper.is_stuck(job, now, self.settings.stuck_after_seconds):
                if job.state is R:
                    raise RequestInvalid(
                        f"job {job_id} is running and making progress: not stuck, left alone"
                    )
                raise RequestInvalid(f"job {job_id} is {job.state.value}, not stuck: left alone")
            return copied(op(job, now))

    def retry_stuck_job(self, org_id: str | None, job_id: str) -> Job:
        def op(job: Job, now: float) -> Job:
            return self._apply(
                job, "reap_requeue", "requeued", "stuck: re-queued by an operator", now,
                run_at=now, progress=0.0, phase=None, cancel_requested=False,
                pause_requested=False, **cleared_lease(),
            )  # fmt: skip

        return self._stuck_control("retry_stuck_job", org_id, job_id, op)

    def cancel_stuck_job(self, org_id: str | None, job_id: str) -> Job:
        reason = "stuck: cancelled by an operator"

        def op(job: Job, now: float) -> Job:
            return self._apply(
                job, "cancel_stuck", "cancelled", reason, now, error_code="cancelled_stuck",
                error_message=reason, finished_at=now, **cleared_lease(),
            )  # fmt: skip

        return self._stuck_control("cancel_stuck_job", org_id, job_id, op)

    def retry_stuck(self, org_id: str | None = None) -> BulkResult:
        ids = [j.id for j in self.stuck_jobs(org_id)]
        return bulk.each(ids, lambda i: self.retry_stuck_job(org_id, i))

    def cancel_stuck(self, org_id: str | None = None) -> BulkResult:
        ids = [j.id for j in self.stuck_jobs(org_id)]
        return bulk.each(ids, lambda i: self.cancel_stuck_job(org_id, i))

    def delete_job(self, org_id: str | None, job_id: str) -> Job:
        with self._tx("delete_job", org_id, job_id) as now:
            job = self._find(org_id, job_id)
            if job.state in (Q, JobState.PAUSED):
                job = self._cancel(job, "cancelled: job deleted", now)
            self._t.events = [e for e in self._t.events if e.job_id != job.id]
            del self._t.jobs[job.id]
            return copied(job)


def _conforms(store: FakeJobStore) -> JobStore:
    """mypy checks here that the fake implements the whole JobStore protocol."""
    return store
