"""The job store as a port: what workers, the API and the CLI may ask of it.

Two protocols: :class:`WorkerPort`, the worker side (claim, heartbeat, fenced final writes,
the worker registry), and :class:`JobStore`, everything: the worker side plus what the API,
the CLI, health checks and metrics use (organisations and tokens, submit and read, control,
counts). Implementations: :class:`~kickflow.jobs.store.SqlJobStore` (SQLite/PostgreSQL, both
protocols), the service's worker protocol client :class:`~kickflow.worker.remote.HttpWorkerStore`
(WorkerPort only: a worker talking to ``kickflow serve``), and the in-memory fake in
``tests/fakes`` for unit tests. Nothing above ``kickflow.jobs`` touches SQLAlchemy; everything
goes through these methods.

Conventions of JobStore: ``org_id`` None means every organisation (operators and local CLI
use only; a request is always scoped to its caller's organisation); a job outside the
organisation raises JobNotFound, never PermissionDenied; an illegal state change raises
IllegalTransition; times are epoch seconds from the store's clock (the database's).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from kickflow.config import Settings
from kickflow.integrations.google.types import ConnectionSecrets, GoogleConnection
from kickflow.jobs.accounts import LOCAL_ORG, IssuedToken, Principal, Role, TokenInfo
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
from kickflow.jobs.org_profiles import OrgProfile
from kickflow.jobs.people import (
    Invitation,
    IssuedInvitation,
    IssuedSession,
    Membership,
    User,
    WebSession,
)
from kickflow.jobs.queries import Page
from kickflow.jobs.queue import DEFAULT_PROFILE, NewJob
from kickflow.jobs.sheet_exports import Cursor, SheetExport, SheetExportConfig
from kickflow.jobs.stats import JobHistory
from kickflow.jobs.throughput import HourlyOutcomes
from kickflow.jobs.webhooks import WebhooksPort


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


class PeoplePort(Protocol):
    """Dashboard users, memberships, sessions, invitations and failed sign-ins
    (:mod:`kickflow.jobs.people`). Passwords never reach the store: it keeps the argon2 hash
    it is given (:mod:`kickflow.security.passwords`). Secrets of sessions and invitations are
    returned once and stored as SHA-256. Emails are matched stripped and lower-cased; roles
    are the user roles only (``worker`` is for machines: RequestInvalid)."""

    # --- users ---------------------------------------------------------------------------------

    def create_user(self, email: str, password_hash: str, name: str | None = None) -> User:
        """A new user; UserExists when the address is taken, RequestInvalid for a malformed
        address or name (blank name: none)."""
        ...

    def user_for_sign_in(self, email: str) -> tuple[User, str] | None:
        """The user with that address and their password hash; None when there is none (or
        the address is malformed). Disabled users are returned: check ``user.disabled``."""
        ...

    def get_user(self, user_id: str) -> User:
        """The user (UserNotFound)."""
        ...

    def set_password(
        self, user_id: str, password_hash: str, keep_session_id: str | None = None
    ) -> int:
        """Store a new password hash and end every other live session of the user (all of
        them when ``keep_session_id`` is None); how many ended. UserNotFound."""
        ...

    # --- memberships ---------------------------------------------------------------------------

    def set_membership(self, user_id: str, org_id: str, role: Role) -> Membership:
        """Add the user to the organisation (by id) with ``role``, or change their role
        (effective on their next request). UserNotFound, OrganisationNotFound."""
        ...

    def remove_membership(self, org_id: str, user_id: str) -> None:
        """Take the user out of the organisation and end their sessions in it; UserNotFound
        when they are not a member of ``org_id``."""
        ...

    def memberships(self, user_id: str) -> list[Membership]:
        """The user's organisations, by name."""
        ...

    def org_members(self, org_id: str) -> list[tuple[User, Membership]]:
        """The organisation's members, by email address."""
        ...

    # --- sessions ------------------------------------------------------------------------------

    def create_session(
        self,
        user_id: str,
        org_id: str,
        lifetime_seconds: float,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> IssuedSession:
        """Sign a browser in to one of the user's organisations; PermissionDenied unless the
        user is an enabled member of it. ``user_agent``/``address`` are kept (cut to size)
        for the list of sessions."""
        ...

    def session_by_secret(self, secret: str, idle_seconds: float) -> WebSession | None:
        """The session behind a cookie; None if unknown, revoked, expired, unused for
        ``idle_seconds`` (keep it well above a minute: ``last_seen_at`` is refreshed at most
        once a minute), its membership is gone or its user disabled. Every dashboard request
        calls this: one indexed read, plus the refresh when due."""
        ...

    def switch_session_org(self, session_id: str, org_id: str) -> WebSession:
        """Move a live session to another organisation of its user; OrganisationNotFound
        when they are not a member, NotAuthenticated when the session has ended."""
        ...

    def list_sessions(self, user_id: str, idle_seconds: float | None = None) -> list[WebSession]:
        """The user's live sessions (in every organisation), newest first; with
        ``idle_seconds``, without those idle for that long."""
        ...

    def revoke_session(self, user_id: str, session_id: str) -> None:
        """End one of the user's own sessions (NotFound for another user's)."""
        ...

    # --- invitations ---------------------------------------------------------------------------

    def create_invitation(
        self,
        org_id: str,
        email: str,
        role: Role,
        invited_by: str | None,
        lifetime_seconds: float,
    ) -> IssuedInvitation:
        """A one-time invitation into the organisation (``invited_by``: a user id, None from
        the command line); the secret goes in the link and is not kept."""
        ...

    def invitation_by_secret(self, secret: str) -> Invitation | None:
        """The invitation behind a link in whatever ``state`` it is; None when unknown."""
        ...

    def accept_invitation(self, secret: str, user_id: str) -> Membership:
        """Use the invitation (once): the user joins its organisation with its role, or keeps
        a stronger one they have. InvitationInvalid (410) when used, expired, revoked or
        unknown; UserNotFound."""
        ...

    def list_invitations(self, org_id: str) -> list[Invitation]:
        """The organisation's invitations in every state, newest first."""
        ...

    def revoke_invitation(self, org_id: str, invitation_id: str) -> None:
        """Make an invitation unusable; NotFound outside ``org_id``, RequestInvalid once it
        was accepted."""
        ...

    # --- failed sign-ins (rate limiting across API nodes) --------------------------------------

    def note_sign_in_failure(self, keys: Sequence[str]) -> None:
        """Count one failure against each key (``address:<ip>``, ``account:<email>``); rows
        older than a day are pruned on the way."""
        ...

    def sign_in_failures(self, key: str, window_seconds: float) -> int:
        """Failures against ``key`` within the last ``window_seconds``."""
        ...

    def clear_sign_in_failures(self, key: str) -> None:
        """Forget the key's failures (after a successful sign-in)."""
        ...


@runtime_checkable
class TranscriptionUsage(Protocol):
    """Seconds of audio each organisation sent for transcription, per UTC day (an ISO date,
    ``2026-12-01``): what KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES caps. Part of JobStore; a
    worker whose store lacks it (the worker protocol client) transcribes without that cap."""

    def transcription_used_s(self, org_id: str, day: str) -> float:
        """The organisation's seconds on ``day``; 0 when it sent none."""
        ...

    def add_transcription_usage(self, org_id: str, day: str, seconds: float) -> None:
        """Add ``seconds`` to the organisation's usage on ``day`` (two adds at once both count)."""
        ...


class FinishedJobsPort(Protocol):
    """The finished-jobs feed (:mod:`kickflow.jobs.finished`): each organisation's jobs in a
    terminal state in the order they finished, read from a consumer's own cursor (webhooks,
    the Sheets export). A job retried and finished again reappears after its new finish."""

    def finished_jobs_after(
        self,
        org_id: str,
        after: tuple[float, str] | None,
        limit: int = 100,
        *,
        with_report: bool = True,
    ) -> list[Job]:
        """The organisation's completed, failed and cancelled jobs ordered by (finished_at,
        id), strictly after the cursor ``after`` = (finished_at, id) of the last one handled
        (None: from the first); at most ``limit`` (1-1000); ``report`` None unless
        ``with_report``."""
        ...


class GoogleConnectionsPort(Protocol):
    """Google connections (:mod:`kickflow.jobs.google_connections`): one per (organisation,
    user), ``user_id == ORG_OWNER`` for the organisation-level one. Tokens go in and out as
    SecretBox tokens only (:class:`ConnectionSecrets`); no method returns them but
    :meth:`google_connection_secrets`. Every method but the last two is scoped by org_id: an id
    of another organisation finds nothing and changes nothing."""

    def save_google_connection(
        self,
        org_id: str,
        user_id: str,
        *,
        email: str | None,
        scopes: Sequence[str],
        secrets: ConnectionSecrets,
        access_expires_at: float | None,
    ) -> GoogleConnection:
        """Connect, or reconnect: an upsert on (org_id, user_id) that keeps the connection's
        id and creation time and sets the status back to ``ok`` (no error). RequestInvalid
        for a user id over 36 or an email over 254 characters."""
        ...

    def google_connection(self, org_id: str, user_id: str) -> GoogleConnection | None:
        """The connection of exactly that (organisation, user), or None (never another's)."""
        ...

    def google_connection_by_id(self, org_id: str, connection_id: str) -> GoogleConnection | None:
        """The organisation's connection with that id, or None."""
        ...

    def google_connection_secrets(
        self, org_id: str, connection_id: str
    ) -> ConnectionSecrets | None:
        """The connection's encrypted tokens, or None."""
        ...

    def update_google_access(
        self, org_id: str, connection_id: str, access_token: str, expires_at: float
    ) -> None:
        """Store a refreshed access token (encrypted text) and its expiry (epoch seconds)."""
        ...

    def mark_google_connection_failed(self, org_id: str, connection_id: str, error: str) -> None:
        """Status ``refresh_failed`` with the reason (one line, at most 500 characters); the
        access token is dropped. A reconnect (save) makes it ``ok`` again."""
        ...

    def delete_google_connection(self, org_id: str, connection_id: str) -> bool:
        """Delete the connection; whether there was one."""
        ...

    def list_google_connections(self, org_id: str) -> list[GoogleConnection]:
        """The organisation's connections by user id (the organisation-level one first)."""
        ...

    def replace_google_secrets(
        self, org_id: str, connection_id: str, secrets: ConnectionSecrets
    ) -> None:
        """Overwrite both encrypted tokens (key rotation); ``updated_at`` stays."""
        ...

    def google_connection_problems(self) -> list[GoogleConnection]:
        """Every organisation's connections whose status is not ``ok`` (health, ops view)."""
        ...

    def google_connection_keys(self) -> list[tuple[str, str]]:
        """(org_id, id) of every connection of every organisation, for key rotation."""
        ...


class SheetExportsPort(Protocol):
    """Google Sheets exports (:mod:`kickflow.jobs.sheet_exports`): one per (organisation,
    project), with its cursor in the finished-jobs feed. Scoped by org_id but for
    :meth:`sheet_exports_on_completion`, which the service's export loop reads."""

    def save_sheet_export(
        self, org_id: str, project: str, config: SheetExportConfig
    ) -> SheetExport:
        """Set up or change the project's export (upsert on (org_id, project)); a new one's
        cursor starts at the store's now, a change keeps it. RequestInvalid for a field that
        does not fit."""
        ...

    def sheet_export(self, org_id: str, project: str) -> SheetExport | None:
        """The project's export, or None."""
        ...

    def list_sheet_exports(self, org_id: str) -> list[SheetExport]:
        """The organisation's exports, by project."""
        ...

    def delete_sheet_export(self, org_id: str, project: str) -> bool:
        """Stop exporting the project; whether there was an export."""
        ...

    def sheet_exports_on_completion(self) -> list[SheetExport]:
        """Every organisation's exports with ``on_completion`` set."""
        ...

    def move_sheet_export_cursor(
        self, org_id: str, project: str, expected: Cursor | None, to: Cursor
    ) -> bool:
        """Compare-and-set the cursor: moved only if it still is ``expected``."""
        ...

    def note_sheet_export(self, org_id: str, project: str, error: str | None) -> None:
        """Record an export's time and error (None: it went through)."""
        ...


class JobStore(
    WorkerPort,
    PeoplePort,
    TranscriptionUsage,
    FinishedJobsPort,
    WebhooksPort,
    GoogleConnectionsPort,
    SheetExportsPort,
    Protocol,
):
    """Everything the API, the CLI, health checks and metrics ask of the job store, plus the
    worker side (:class:`WorkerPort`). One call is one transaction."""

    # --- organisations and tokens --------------------------------------------------------------

    def ensure_org(self, name: str = LOCAL_ORG) -> str:
        """The id of organisation ``name`` (default: the local one), created when missing."""
        ...

    def org_id_by_name(self, name: str) -> str | None:
        """The id of the organisation named ``name``, or None."""
        ...

    def create_org(self, name: str, max_running: int | None = None) -> str:
        """Create an organisation; its id. The name is stripped, 1-200 characters without
        control characters, and not the name or id of another organisation
        (RequestInvalid / OrganisationExists). ``max_running`` caps its running jobs (None:
        ``KICKFLOW_ORG_MAX_RUNNING``)."""
        ...

    def find_org(self, name_or_id: str) -> str | None:
        """The id of the organisation with that name or id, or None."""
        ...

    def require_org(self, name_or_id: str) -> str:
        """Like :meth:`find_org`; OrganisationNotFound when there is none."""
        ...

    def set_org_cap(self, org_id: str, max_running: int | None) -> None:
        """Cap the organisation's running jobs (None = the KICKFLOW_ORG_MAX_RUNNING default)."""
        ...

    def create_token(self, org_id: str, role: Role, name: str | None = None) -> IssuedToken:
        """Issue an API token for the organisation (name or id) with ``role``; the secret is in
        the result only (the store keeps a hash). A ``worker`` token may only call the worker
        API; its organisation is where it was made, the jobs it claims are everyone's."""
        ...

    def revoke_token(self, token_id_or_secret: str) -> str:
        """Revoke a token, given its id or the secret itself, at once; its id (TokenNotFound)."""
        ...

    def authenticate(self, secret: str) -> Principal | None:
        """Who a token belongs to (organisation, role, token id, age of its last-used mark);
        None for an unknown or revoked token."""
        ...

    def mark_token_used(self, token_id: str) -> bool:
        """Set the token's last-used time, unless set within the last minute (conditional:
        concurrent calls write once); whether it was written."""
        ...

    def list_tokens(self, org_id: str) -> list[TokenInfo]:
        """The organisation's tokens, revoked ones included, oldest first; never a secret."""
        ...

    def org_has_tokens(self, org_id: str) -> bool:
        """Whether the organisation has ever had a token (revoked ones count)."""
        ...

    # --- global pause --------------------------------------------------------------------------

    def pause_queue(self) -> None:
        """Global pause: workers claim nothing until resumed; running jobs carry on."""
        ...

    def resume_queue(self) -> None:
        """End a global pause."""
        ...

    def queue_paused(self) -> bool:
        """Whether the queue is globally paused."""
        ...

    # --- submit --------------------------------------------------------------------------------

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
        """Queue a job; the same idempotency key in the same organisation returns the first
        job. QueueLimitReached when the organisation has ``org_max_queued`` queued jobs.
        ``profile_source``: a custom profile's TOML, kept with the job and judged by (later
        changes to the organisation's profile never reach a submitted job). ``inputs``:
        subtitle files delivered with the media and per-job options (a source timecode),
        stored as given (the caller checks them) and handed to the worker with the job."""
        ...

    def enqueue_many(self, items: Sequence[NewJob]) -> list[Job]:
        """Queue a batch (from :meth:`new_job`) at once, in order; all or nothing."""
        ...

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
        """A job description for :meth:`enqueue_many` (defaults as in :meth:`enqueue`)."""
        ...

    def ensure_queue_room(self, org_id: str, adding: int = 1) -> None:
        """QueueLimitReached unless ``org_id`` can queue ``adding`` more jobs now (an early,
        cheap refusal; enqueue checks again atomically)."""
        ...

    # --- read ----------------------------------------------------------------------------------

    def get(self, org_id: str | None, job_id: str) -> Job:
        """The job; JobNotFound when it does not exist in ``org_id``."""
        ...

    def jobs_by_ids(self, org_id: str | None, job_ids: Sequence[str]) -> list[Job]:
        """The jobs among ``job_ids`` that exist in ``org_id``, in the order asked (unknown
        ids left out, duplicates once)."""
        ...

    def active_job_ids(self, org_id: str | None) -> list[str]:
        """Ids of the queued, running and paused jobs, oldest first."""
        ...

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
        """Jobs newest first, filtered, with cursor pagination (pass ``next_cursor`` back).

        Filters combine with AND (:class:`~kickflow.jobs.listing.JobFilter`): ``text`` is a
        literal substring of the file name, ignoring ASCII case; ``created_from`` inclusive,
        ``created_to`` exclusive (epoch seconds). The jobs carry no report (None: :meth:`get`
        has it). RequestInvalid for an unknown state or verdict, JobError for a cursor that is
        not one of ours."""
        ...

    def events(self, job_id: str, org_id: str | None = None) -> list[JobEvent]:
        """The job's history, oldest first."""
        ...

    def recent_errors(self, org_id: str | None = None, limit: int = 20) -> list[JobEvent]:
        """The latest failures, retries, reaper recoveries and fenced writes, newest first."""
        ...

    def counts(self, org_id: str | None = None) -> dict[str, int]:
        """Jobs per state (every state, 0 if none) plus ``stuck``."""
        ...

    def state_counts(self, states: Sequence[str]) -> dict[str, int]:
        """Jobs of every organisation in each of ``states`` (cheap per state)."""
        ...

    def stuck_count(self) -> int:
        """Stuck jobs of every organisation."""
        ...

    def stuck_jobs(self, org_id: str | None = None, limit: int = 100) -> list[Job]:
        """Running jobs with an expired lease or no progress for ``stuck_after``."""
        ...

    def oldest_queued_age(self, org_id: str | None = None) -> float | None:
        """Seconds the oldest due queued job has waited; None when nothing is queued."""
        ...

    def changed_since(self, org_id: str, since: float, limit: int = 500) -> list[Job]:
        """The organisation's jobs changed after ``since`` (store time), oldest change first,
        without their reports (``report`` is None: streams carry state and progress only)."""
        ...

    def now(self) -> float:
        """The store's clock (epoch seconds): the one leases and 'since' values are on."""
        ...

    def job_history(
        self, duration_bounds: Sequence[float], attempt_bounds: Sequence[float]
    ) -> JobHistory:
        """Counters (finished by state, recoveries, FFmpeg kills, fenced writes) and
        histograms (job duration, attempts) over every organisation, for ``/metrics``."""
        ...

    def reaper_status(self) -> dict[str, Any]:
        """``last_run`` (epoch, None if never), ``last_recovered``, ``last_error`` (+ ``_at``)."""
        ...

    def registered_workers(self, hostname: str) -> dict[str, int]:
        """Every worker ever registered from ``hostname``, live or not: id -> pid."""
        ...

    def ping(self) -> str:
        """One round trip to the store's database; a short name of it (e.g. the SQL dialect).
        Raises a transient KickflowError when it cannot be reached."""
        ...

    def hourly_outcomes(self, org_id: str | None = None, hours: int = 24) -> list[HourlyOutcomes]:
        """Jobs finished in each of the last ``hours`` clock hours (oldest first, the current
        hour last), by terminal state, from the event history: the ops page's charts."""
        ...

    # --- organisation profiles -----------------------------------------------------------------

    def save_org_profile(
        self, org_id: str, name: str, source: str, user_id: str | None
    ) -> OrgProfile:
        """Store or replace the organisation's custom profile ``name`` (a lower-case slug of at
        most 100 characters, else RequestInvalid) with its TOML ``source``, validated by the
        caller (:mod:`kickflow.profiles.catalog`)."""
        ...

    def org_profiles(self, org_id: str) -> list[OrgProfile]:
        """The organisation's custom profiles, by name."""
        ...

    def org_profile(self, org_id: str, name: str) -> OrgProfile | None:
        """The organisation's custom profile ``name``, or None."""
        ...

    def delete_org_profile(self, org_id: str, name: str) -> bool:
        """Delete the organisation's custom profile ``name``; whether it existed."""
        ...

    # --- control -------------------------------------------------------------------------------

    def cancel(self, org_id: str | None, job_id: str, reason: str = "cancelled on request") -> Job:
        """Queued/paused ⇒ cancelled; running ⇒ cancel requested (stops within a heartbeat)."""
        ...

    def pause(self, org_id: str | None, job_id: str) -> Job:
        """Queued ⇒ paused; running ⇒ pause requested (it restarts from 0 on resume)."""
        ...

    def resume(self, org_id: str | None, job_id: str) -> Job:
        """Paused ⇒ queued; a pending pause request on a running job is withdrawn."""
        ...

    def retry(self, org_id: str | None, job_id: str, reason: str = "re-queued on request") -> Job:
        """Failed, cancelled or completed ⇒ queued, attempts reset, history kept."""
        ...

    def requeue(self, org_id: str | None, job_id: str, reason: str = "re-queued on request") -> Job:
        """The same as :meth:`retry`."""
        ...

    def retry_many(self, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        """:meth:`retry` each job; refusals are reported per id, not raised."""
        ...

    def cancel_many(self, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        """:meth:`cancel` each job; refusals are reported per id, not raised."""
        ...

    def pause_many(self, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        """:meth:`pause` each job; refusals are reported per id, not raised."""
        ...

    def resume_many(self, org_id: str | None, job_ids: Iterable[str]) -> BulkResult:
        """:meth:`resume` each job; refusals are reported per id, not raised."""
        ...

    def retry_failed(self, org_id: str | None, limit: int = 1000) -> BulkResult:
        """Redrive the dead-letter list (failed jobs), up to ``limit``."""
        ...

    def retry_stuck_job(self, org_id: str | None, job_id: str) -> Job:
        """Re-queue one stuck job now (its old worker is fenced off); RequestInvalid when it
        is not stuck, decided atomically with the change."""
        ...

    def cancel_stuck_job(self, org_id: str | None, job_id: str) -> Job:
        """End one stuck job as cancelled (errors as :meth:`retry_stuck_job`)."""
        ...

    def retry_stuck(self, org_id: str | None = None) -> BulkResult:
        """:meth:`retry_stuck_job` every stuck job."""
        ...

    def cancel_stuck(self, org_id: str | None = None) -> BulkResult:
        """:meth:`cancel_stuck_job` every stuck job."""
        ...

    def delete_job(self, org_id: str | None, job_id: str) -> Job:
        """Delete a job and its history (queued/paused: cancelled first; running: its worker
        is fenced off at its next heartbeat); returns the job as it was last."""
        ...
