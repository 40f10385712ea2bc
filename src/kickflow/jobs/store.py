"""``SqlJobStore``: the job store (:class:`~kickflow.jobs.port.JobStore`) on SQLite or PostgreSQL,
the one entry point to the job database for the CLI, the API and workers.

Each method is one transaction. User-side methods take ``org_id`` (None = every organisation,
for operators and local use); worker-side methods take the :class:`Lease` from ``claim`` and
raise :class:`~kickflow.errors.LeaseLost` when a write is fenced off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kickflow.config import Settings, get_settings
from kickflow.errors import (
    DatabaseError,
    KickflowError,
    LeaseLost,
    OrganisationExists,
    QueueLimitReached,
)
from kickflow.jobs import accounts, bulk, queries, queue, reaper, registry, stats
from kickflow.jobs import claim as claim_ops
from kickflow.jobs import lease as lease_ops
from kickflow.jobs.accounts import IssuedToken, Principal, Role, TokenInfo
from kickflow.jobs.db import LockHolder, make_engine, read_tx, sqlite_lock_holder, write_tx
from kickflow.jobs.finished import FinishedJobsQueries
from kickflow.jobs.google_connections import GoogleConnectionOperations
from kickflow.jobs.listing import JobFilter
from kickflow.jobs.migrate import current_revision, ensure_migrated, head_revision, upgrade
from kickflow.jobs.models import (
    BulkResult,
    Claimed,
    HeartbeatReply,
    Job,
    JobEvent,
    JobInputs,
    Lease,
    ReapResult,
    WorkerInfo,
)
from kickflow.jobs.org_profiles import OrgProfileOperations
from kickflow.jobs.people_sql import SqlPeople
from kickflow.jobs.port import JobStore
from kickflow.jobs.queries import Page
from kickflow.jobs.queue import DEFAULT_PROFILE
from kickflow.jobs.sheet_exports import SheetExportOperations
from kickflow.jobs.stats import JobHistory
from kickflow.jobs.throughput import ThroughputQueries
from kickflow.jobs.usage import UsageOperations
from kickflow.jobs.webhooks import WebhookOperations

T = TypeVar("T")
REAPER_RUN_FLAG = "reaper_last_run"
REAPER_ERROR_FLAG = "reaper_last_error"


class SqlJobStore(
    bulk.BulkOperations,
    OrgProfileOperations,
    ThroughputQueries,
    UsageOperations,
    FinishedJobsQueries,
    WebhookOperations,
    GoogleConnectionOperations,
    SheetExportOperations,
    SqlPeople,
):
    """Queue operations on one database (SQLite or PostgreSQL): the SQL implementation of
    :class:`~kickflow.jobs.port.JobStore` (and so of its worker side, ``WorkerPort``).

    Only this implementation has an engine, a URL and migrations (``engine``, ``url``,
    :meth:`migrate`, :meth:`revision`, :meth:`describe`): the CLI's ``db`` and ``serve``
    commands may use them, nothing else above ``kickflow.jobs`` does."""

    def __init__(
        self,
        url: str | None = None,
        settings: Settings | None = None,
        *,
        check_migrated: bool = True,
    ) -> None:
        self.settings = settings or get_settings()
        self.url = url or self.settings.resolved_database_url()
        idle_tx = max(5.0, self.settings.lease_seconds)
        self.engine: Engine = make_engine(
            self.url,
            idle_tx_timeout_s=idle_tx,
            lock_timeout_s=self.settings.db_lock_timeout_seconds,
        )
        if check_migrated:
            ensure_migrated(self.engine)

    @property
    def runs_reaper(self) -> bool:
        return True

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        """Apply pending migrations (``kickflow db upgrade``)."""
        upgrade(self.engine)

    def revision(self) -> str | None:
        """The migration the database is at (None: never migrated)."""
        return current_revision(self.engine)

    @staticmethod
    def needed_revision() -> str:
        """The migration this version of the package needs (the newest it ships)."""
        return head_revision()

    def describe(self) -> str:
        """The database URL without its password, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def ping(self) -> str:
        """One round trip to the database; returns the dialect name (``sqlite``,
        ``postgresql``). Raises DatabaseError when it cannot be reached."""
        self._read(lambda c: c.execute(sa.text("SELECT 1")))
        return self.engine.dialect.name

    def write_lock_holder(self) -> LockHolder | None:
        """The process holding the SQLite write lock now (None: free, or PostgreSQL)."""
        return sqlite_lock_holder(self.engine)

    def _write(self, fn: Callable[[Connection], T]) -> T:
        with write_tx(self.engine) as conn:
            return fn(conn)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        return self._once_more_if_dropped(read_tx, fn)

    def _once_more_if_dropped(
        self,
        tx: Callable[[Engine], contextlib.AbstractContextManager[Connection]],
        fn: Callable[[Connection], T],
    ) -> T:
        """``fn`` in a ``tx`` transaction, repeated once on a fresh connection when the server
        had dropped the pooled one (a restart, or a session it ended while its process was
        frozen mid-transaction). Only for work that is safe to repeat."""
        try:
            with tx(self.engine) as conn:
                return fn(conn)
        except DatabaseError as exc:
            if not getattr(exc.__cause__, "connection_invalidated", False):
                raise
        with tx(self.engine) as conn:
            return fn(conn)

    # --- organisations and tokens ----------------------------------------------------------

    def ensure_org(self, name: str = accounts.LOCAL_ORG) -> str:
        """The id of organisation ``name`` (default: the local one), created when missing."""
        found = self.org_id_by_name(name)  # no write (and no write lock) when it exists
        if found is not None:
            return found
        try:
            return self._write(lambda c: accounts.ensure_org(c, name))
        except KickflowError:
            found = self.org_id_by_name(name)  # another process created it at the same time
            if found is None:
                raise
            return found

    def org_id_by_name(self, name: str) -> str | None:
        return self._read(lambda c: accounts.org_id_by_name(c, name))

    def create_org(self, name: str, max_running: int | None = None) -> str:
        """Create an organisation (rules: :func:`kickflow.jobs.accounts.create_org`); its id.
        OrganisationExists when the name is taken, RequestInvalid for a bad name."""
        try:
            return self._write(lambda c: accounts.create_org(c, name, max_running))
        except DatabaseError:
            # Lost a race on the unique name: say so rather than "database error".
            if self.find_org(name.strip()) is not None:
                raise OrganisationExists(f"organisation {name.strip()!r} already exists") from None
            raise

    def find_org(self, name_or_id: str) -> str | None:
        """The id of the organisation with that name or id, or None."""
        return self._read(lambda c: accounts.find_org(c, name_or_id))

    def require_org(self, name_or_id: str) -> str:
        """Like :meth:`find_org`, raising OrganisationNotFound."""
        return self._read(lambda c: accounts.require_org(c, name_or_id))

    def create_token(self, org_id: str, role: Role, name: str | None = None) -> IssuedToken:
        """Issue a token (its secret is in the result only: the database keeps a hash)."""
        return self._write(lambda c: accounts.create_token(c, org_id, role, name))

    def revoke_token(self, token_id_or_secret: str) -> str:
        """Revoke a token by id or secret, at once; returns its id (TokenNotFound)."""
        return self._write(lambda c: accounts.revoke_token(c, token_id_or_secret))

    def authenticate(self, secret: str) -> Principal | None:
        """The caller behind a token, or None for an unknown or revoked one."""
        return self._read(lambda c: accounts.authenticate(c, secret))

    def mark_token_used(self, token_id: str) -> bool:
        """Record the token's use (at most once a minute); whether it was written."""
        return self._write(lambda c: accounts.mark_used(c, token_id))

    def list_tokens(self, org_id: str) -> list[TokenInfo]:
        """The organisation's tokens, revoked ones included (never a secret)."""
        return self._read(lambda c: accounts.list_tokens(c, org_id))

    def org_has_tokens(self, org_id: str) -> bool:
        """Whether the organisation has ever had a token (revoked ones count)."""
        return self._read(lambda c: accounts.has_token(c, org_id))

    def set_org_cap(self, org_id: str, max_running: int | None) -> None:
        """Cap the organisation's running jobs (None = the KICKFLOW_ORG_MAX_RUNNING default)."""
        self._write(lambda c: accounts.set_org_cap(c, org_id, max_running))

    # --- global pause -----------------------------------------------------------------------

    def pause_queue(self) -> None:
        """Global pause: workers claim nothing until resumed; running jobs carry on."""
        self._write(lambda c: registry.set_flag(c, claim_ops.PAUSE_FLAG, "1"))

    def resume_queue(self) -> None:
        self._write(lambda c: registry.set_flag(c, claim_ops.PAUSE_FLAG, "0"))

    def queue_paused(self) -> bool:
        flag = self._read(lambda c: registry.get_flag(c, claim_ops.PAUSE_FLAG))
        return flag is not None and flag[0] == "1"

    # --- submit and read --------------------------------------------------------------------

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
        """Queue a job; the same idempotency key in the same organisation returns the first job.
        QueueLimitReached when the organisation has ``org_max_queued`` queued jobs already."""
        new = self.new_job(
            org_id, source_type, source_ref, file_name=file_name, profile=profile,
            project=project, priority=priority, idempotency_key=idempotency_key,
            file_size=file_size, max_attempts=max_attempts, delay_seconds=delay_seconds,
            profile_source=profile_source, inputs=inputs,
        )  # fmt: skip
        try:
            return self._write(lambda c: queue.enqueue(c, new, self.settings.org_max_queued))
        except QueueLimitReached:
            raise
        except KickflowError:
            if not idempotency_key:
                raise
            # Lost a race on the idempotency key: the winner's job is the answer.
            found = self._read(lambda c: queue.find_by_key(c, org_id, idempotency_key))
            if found is None:
                raise
            return found

    def enqueue_many(self, items: Sequence[queue.NewJob]) -> list[Job]:
        """Queue a batch (``kickflow.jobs.NewJob`` each) in one transaction, in order; all or
        nothing (QueueLimitReached when an organisation would pass ``org_max_queued``)."""
        limit = self.settings.org_max_queued
        try:
            return self._write(lambda c: queue.enqueue_many(c, items, limit))
        except QueueLimitReached:
            raise
        except KickflowError:
            if not any(n.idempotency_key for n in items):
                raise
            # Lost a race on an idempotency key: run again, the winners' jobs are found by key.
            return self._write(lambda c: queue.enqueue_many(c, items, limit))

    def ensure_queue_room(self, org_id: str, adding: int = 1) -> None:
        """QueueLimitReached unless ``org_id`` can queue ``adding`` more jobs now: a cheap
        early refusal (before an upload is stored); enqueue checks again atomically."""
        queued = self._read(lambda c: queue.queued_count(c, org_id))
        limit = self.settings.org_max_queued
        if queued + adding > limit:
            raise QueueLimitReached(queue.queue_full_message(queued, adding, limit))

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
    ) -> queue.NewJob:
        """A job description for ``enqueue_many`` (defaults as in ``enqueue``)."""
        return queue.NewJob(
            org_id, source_type, source_ref, file_name, profile,
            max_attempts or self.settings.max_attempts, project, priority, idempotency_key,
            file_size, delay_seconds, profile_source, inputs or JobInputs(),
        )  # fmt: skip

    def get(self, org_id: str | None, job_id: str) -> Job:
        """The job; JobNotFound when it does not exist in ``org_id``."""
        return self._read(lambda c: queries.get(c, org_id, job_id))

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
        """Jobs newest first, filtered (:class:`JobFilter`), with cursor pagination."""
        where = JobFilter(state, verdict, project, profile, text, created_from, created_to)
        return self._read(lambda c: queries.list_jobs(c, org_id, where, cursor=cursor, limit=limit))

    def events(self, job_id: str, org_id: str | None = None) -> list[JobEvent]:
        """The job's history, oldest first."""
        return self._read(lambda c: queries.events(c, org_id, job_id))

    def recent_errors(self, org_id: str | None = None, limit: int = 20) -> list[JobEvent]:
        return self._read(lambda c: queries.recent_errors(c, org_id, limit))

    def counts(self, org_id: str | None = None) -> dict[str, int]:
        """Jobs per state plus ``stuck``."""
        return self._read(lambda c: queries.counts(c, org_id, self.settings.stuck_after_seconds))

    def stuck_jobs(self, org_id: str | None = None, limit: int = 100) -> list[Job]:
        """Running jobs with an expired lease or no progress for ``stuck_after``."""
        return self._read(
            lambda c: queries.stuck_jobs(c, org_id, self.settings.stuck_after_seconds, limit)
        )

    def oldest_queued_age(self, org_id: str | None = None) -> float | None:
        return self._read(lambda c: queries.oldest_queued_age(c, org_id))

    def changed_since(self, org_id: str, since: float, limit: int = 500) -> list[Job]:
        """Jobs whose row changed after ``since`` (database time), for progress streams."""
        return self._read(lambda c: queries.changed_since(c, org_id, since, limit))

    def jobs_by_ids(self, org_id: str | None, job_ids: Sequence[str]) -> list[Job]:
        """The jobs among ``job_ids`` that exist in ``org_id``, in the order asked."""
        return self._read(lambda c: queries.jobs_by_ids(c, org_id, job_ids))

    def active_job_ids(self, org_id: str | None) -> list[str]:
        """Ids of the queued, running and paused jobs, oldest first."""
        return self._read(lambda c: queries.active_job_ids(c, org_id))

    def state_counts(self, states: Sequence[str]) -> dict[str, int]:
        """Jobs of every organisation in each of ``states`` (cheap per state, unlike
        :meth:`counts`, which groups the whole table)."""
        return self._read(lambda c: queries.state_counts(c, states))

    def stuck_count(self) -> int:
        """Stuck jobs of every organisation."""
        return self._read(lambda c: queries.stuck_count(c, self.settings.stuck_after_seconds))

    def job_history(
        self, duration_bounds: Sequence[float], attempt_bounds: Sequence[float]
    ) -> JobHistory:
        """Counters and histograms from every organisation's history, for ``/metrics``."""
        return self._read(lambda c: stats.history(c, duration_bounds, attempt_bounds))

    def now(self) -> float:
        """The database clock (epoch seconds)."""
        return self._read(queries.database_now)

    # --- control ----------------------------------------------------------------------------

    def _control(
        self, org_id: str | None, job_id: str, op: Callable[[Connection, Job], Job]
    ) -> Job:
        return self._write(lambda c: op(c, queue.locked(c, org_id, job_id)))

    def cancel(self, org_id: str | None, job_id: str, reason: str = "cancelled on request") -> Job:
        """Queued/paused ⇒ cancelled; running ⇒ cancel requested (stops within one heartbeat)."""
        return self._control(org_id, job_id, lambda c, j: queue.cancel(c, j, reason))

    def pause(self, org_id: str | None, job_id: str) -> Job:
        """Queued ⇒ paused; running ⇒ pause requested (it stops, then restarts from 0 on resume)."""
        return self._control(org_id, job_id, queue.pause)

    def resume(self, org_id: str | None, job_id: str) -> Job:
        return self._control(org_id, job_id, queue.resume)

    def retry(self, org_id: str | None, job_id: str, reason: str = "re-queued on request") -> Job:
        """Failed, cancelled or completed ⇒ queued, attempts reset, history kept."""
        return self._control(org_id, job_id, lambda c, j: queue.requeue(c, j, reason))

    requeue = retry

    def _stuck_control(
        self, org_id: str | None, job_id: str, op: Callable[[Connection, Job], Job]
    ) -> Job:
        after = self.settings.stuck_after_seconds
        return self._write(lambda c: op(c, queue.locked_stuck(c, org_id, job_id, after)))

    def retry_stuck_job(self, org_id: str | None, job_id: str) -> Job:
        """Re-queue one stuck job now (its old worker is fenced off); RequestInvalid when it
        is not stuck (checked under the row lock), JobNotFound outside ``org_id``."""
        op = lambda c, j: queue.retry_stuck_now(c, j, "stuck: re-queued by an operator")  # noqa: E731
        return self._stuck_control(org_id, job_id, op)

    def cancel_stuck_job(self, org_id: str | None, job_id: str) -> Job:
        """End one stuck job as cancelled, with the reason (errors as :meth:`retry_stuck_job`)."""
        op = lambda c, j: queue.cancel_stuck(c, j, "stuck: cancelled by an operator")  # noqa: E731
        return self._stuck_control(org_id, job_id, op)

    def retry_stuck(self, org_id: str | None = None) -> BulkResult:
        """Re-queue every stuck job now; their old workers are fenced off."""
        ids = [j.id for j in self.stuck_jobs(org_id)]
        return bulk.each(ids, lambda i: self.retry_stuck_job(org_id, i))

    def cancel_stuck(self, org_id: str | None = None) -> BulkResult:
        """End every stuck job as cancelled, with the reason."""
        ids = [j.id for j in self.stuck_jobs(org_id)]
        return bulk.each(ids, lambda i: self.cancel_stuck_job(org_id, i))

    def delete_job(self, org_id: str | None, job_id: str) -> Job:
        """Delete a job and its history (a queued or paused one is cancelled first; a running
        one's worker is fenced off at its next heartbeat); the job as it was last."""
        return self._write(lambda c: queue.delete(c, org_id, job_id))

    # --- reaper -----------------------------------------------------------------------------

    def reap(self) -> ReapResult:
        """One reaper pass; records its last run (or error) for health checks."""
        policy = reaper.ReapPolicy(
            self.settings.stuck_after_seconds,
            self.settings.retry_base_seconds,
            self.settings.retry_max_seconds,
        )
        try:
            result = self._write(lambda c: reaper.reap(c, policy))
        except KickflowError as exc:
            self._note_reaper_error(exc.message)
            raise
        self._write(lambda c: registry.set_flag(c, REAPER_RUN_FLAG, str(result.total)))
        return result

    def _note_reaper_error(self, message: str) -> None:
        # When the database itself is the problem this fails too; the caller logs the cause.
        with contextlib.suppress(KickflowError):
            self._write(lambda c: registry.set_flag(c, REAPER_ERROR_FLAG, message))

    def reaper_status(self) -> dict[str, Any]:
        """``last_run`` (epoch, None if never), ``last_recovered``, ``last_error`` (+ ``_at``)."""
        run = self._read(lambda c: registry.get_flag(c, REAPER_RUN_FLAG))
        err = self._read(lambda c: registry.get_flag(c, REAPER_ERROR_FLAG))
        return {
            "last_run": run[1] if run else None,
            "last_recovered": int(run[0]) if run else 0,
            "last_error": err[0] if err else None,
            "last_error_at": err[1] if err else None,
        }

    # --- worker registry --------------------------------------------------------------------

    def register_worker(self, worker_id: str, hostname: str, pid: int, concurrency: int) -> None:
        self._write(lambda c: registry.register_worker(c, worker_id, hostname, pid, concurrency))

    def worker_heartbeat(self, worker_id: str, state: str = "running") -> None:
        self._write(lambda c: registry.beat_worker(c, worker_id, state))

    def prune_workers(self, older_than_seconds: float = 86400.0) -> int:
        """Forget workers silent for longer than ``older_than_seconds`` (default a day)."""
        return self._write(lambda c: registry.prune_workers(c, older_than_seconds))

    def live_workers(self) -> list[WorkerInfo]:
        """Workers that heart-beat within three heartbeat periods."""
        within = max(3 * self.settings.heartbeat_seconds, 5.0)
        return self._read(lambda c: registry.live_workers(c, within))

    def registered_workers(self, hostname: str) -> dict[str, int]:
        """Every worker ever registered from ``hostname``, live or not: id -> pid."""
        return self._read(lambda c: registry.registered_workers(c, hostname))

    # --- worker side (fenced) ---------------------------------------------------------------

    def claim(self, worker_id: str, limit: int = 1) -> list[Claimed]:
        """Atomically claim up to ``limit`` due jobs."""
        return self._write(
            lambda c: claim_ops.claim(
                c,
                worker_id,
                lease_seconds=self.settings.lease_seconds,
                default_cap=self.settings.org_max_running,
                limit=limit,
            )
        )

    def heartbeat(self, lease: Lease, progress: float, phase: str) -> HeartbeatReply:
        """Extend the lease and report progress; the reply says lease held / cancel / pause."""
        # Repeatable: it only extends the lease of the token's holder. A worker thawed after
        # its lease ran out gets the store's answer (lease lost, recorded) rather than an
        # error on the connection the server ended, which would stop it unrecorded.
        reply = self._once_more_if_dropped(
            write_tx,
            lambda c: lease_ops.heartbeat(c, lease, progress, phase, self.settings.lease_seconds),
        )
        if not reply.lease_held:
            self._fenced(lease, "heartbeat")
        return reply

    def _fenced(self, lease: Lease, what: str) -> None:
        self._write(lambda c: lease_ops.record_fenced(c, lease, what))

    def _finish(self, lease: Lease, what: str, fn: Callable[[Connection], Job | None]) -> Job:
        job = self._write(fn)
        if job is None:
            self._fenced(lease, what)
            raise LeaseLost(f"job {lease.job_id}: lease lost, {what} rejected")
        return job

    def complete(self, lease: Lease, verdict: str, report: dict[str, Any]) -> Job:
        """Accept the result (fenced: a worker that lost its lease gets LeaseLost)."""
        return self._finish(
            lease, "result", lambda c: lease_ops.complete(c, lease, verdict, report)
        )

    def complete_many(self, results: Sequence[tuple[Lease, str, dict[str, Any]]]) -> list[bool]:
        """Complete several attempts in one transaction (``(lease, verdict, report)`` each);
        True where accepted, False where fenced off (recorded as ``fenced`` events)."""
        accepted = self._write(lambda c: lease_ops.complete_many(c, results))
        for (lease, _, _), ok in zip(results, accepted, strict=True):
            if not ok:
                self._fenced(lease, "result")
        return accepted

    def fail(self, lease: Lease, code: str, message: str, *, permanent: bool) -> Job:
        """Record a failed attempt: re-queued with backoff, or failed if permanent/exhausted."""
        s = self.settings
        return self._finish(
            lease,
            "failure",
            lambda c: lease_ops.fail(
                c,
                lease,
                code,
                message,
                permanent=permanent,
                retry_base=s.retry_base_seconds,
                retry_max=s.retry_max_seconds,
            ),
        )

    def release(self, lease: Lease, reason: str = "worker shutting down") -> Job:
        """Back to queued without using an attempt."""
        return self._finish(lease, "release", lambda c: lease_ops.release(c, lease, reason))

    def acknowledge_cancel(self, lease: Lease, message: str = "cancelled on request") -> Job:
        return self._finish(
            lease, "cancel", lambda c: lease_ops.acknowledge_cancel(c, lease, message)
        )

    def acknowledge_pause(self, lease: Lease, message: str = "paused on request") -> Job:
        return self._finish(
            lease, "pause", lambda c: lease_ops.acknowledge_pause(c, lease, message)
        )


def _conforms(store: SqlJobStore) -> JobStore:
    """mypy checks here that SqlJobStore implements the whole JobStore protocol."""
    return store
