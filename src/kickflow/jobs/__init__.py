"""The durable QC job queue, behind one port: :class:`JobStore`.

Public API (everything else in this package is internal)::

    from kickflow.jobs import JobStore, SqlJobStore, JobState, sources

    # JobStore is a Protocol (kickflow.jobs.port): the API, the CLI, health checks and metrics
    # take a JobStore and call only its methods; workers need only its WorkerPort half.
    # Implementations: SqlJobStore (SQLite/PostgreSQL), the worker's HTTP client
    # (WorkerPort only), the in-memory fake of the unit tests.
    store: JobStore = SqlJobStore()     # KICKFLOW_DATABASE_URL or SQLite under data_dir;
    store = SqlJobStore(url, settings)  # raises DatabaseNotMigrated if `kickflow db upgrade`
    store.settings                      # is needed (or SqlJobStore(url, check_migrated=False))

    # SqlJobStore only (the `db` and `serve` commands; tests may look inside):
    store.migrate()  store.revision()  SqlJobStore.needed_revision()  store.describe()  store.engine

    # organisations and API tokens (roles viewer < member < admin < operator; worker apart)
    org = store.ensure_org("local")  create_org(name, max_running)  org_id_by_name(name)
    find_org(name_or_id) -> id | None   require_org(name_or_id) (OrganisationNotFound)
    set_org_cap(org, n)   create_token(org, role, name) -> IssuedToken (secret shown once)
    revoke_token(id_or_secret)   authenticate(secret) -> Principal | None
    mark_token_used(token_id)   list_tokens(org) -> [TokenInfo]   org_has_tokens(org)

    # people of the dashboard (kickflow.jobs.people; passwords: kickflow.security.passwords)
    create_user(email, hash, name) -> User   user_for_sign_in(email) -> (User, hash) | None
    get_user(id)   set_password(id, hash, keep_session_id) -> sessions ended
    set_membership(user, org, role) -> Membership   remove_membership(org, user)
    memberships(user)   org_members(org) -> [(User, Membership)]
    create_session(user, org, lifetime, ua, addr) -> IssuedSession (secret for the cookie)
    session_by_secret(secret, idle) -> WebSession | None   switch_session_org(session, org)
    list_sessions(user)   revoke_session(user, session)
    create_invitation(org, email, role, by, lifetime) -> IssuedInvitation (secret for the link)
    invitation_by_secret(secret)   accept_invitation(secret, user) -> Membership
    list_invitations(org)   revoke_invitation(org, id)
    note_sign_in_failure(keys)   sign_in_failures(key, window) -> n   clear_sign_in_failures(key)

    # global pause
    pause_queue()  resume_queue()  queue_paused()

    # submit and read (org_id=None means every organisation: operators and local CLI only)
    info = sources.inspect("path"|"upload", ref, settings)  # -> SourceInfo(file_name, size)
    job = store.enqueue(org, "path", ref, file_name=..., profile=..., project=, priority=,
                        idempotency_key=, file_size=, max_attempts=,
                        inputs=JobInputs(subtitles=(Sidecar("path", ref, "EP01.en.srt"),),
                                         timecode_start="10:00:00:00"))
    jobs = store.enqueue_many([store.new_job(org, "upload", ref, file_name=...), ...])
    store.ensure_queue_room(org, n)            # QueueLimitReached before an upload is stored
    store.get(org, job_id) -> Job (JobNotFound)    store.list_jobs(org, state=, verdict=, project=,
    profile=, text=, created_from=, created_to=, cursor=, limit=) -> Page(jobs, next_cursor)
    # (newest first; no report in a page's jobs; filters: kickflow.jobs.listing.JobFilter)
    store.events(job_id, org) -> [JobEvent]
    store.jobs_by_ids(org, ids)   store.active_job_ids(org)
    store.counts(org) -> {state: n, ..., "stuck": n}    store.stuck_jobs(org)
    store.recent_errors(org)   store.oldest_queued_age(org)   store.changed_since(org, t)
    store.now()   store.live_workers() -> [WorkerInfo]   store.reaper_status()
    store.registered_workers(hostname) -> {worker id: pid}   store.ping() -> "sqlite"|...

    # every organisation, for health checks and /metrics
    store.state_counts(states) -> {state: n}   store.stuck_count()
    store.job_history(duration_bounds, attempt_bounds) -> JobHistory
    store.hourly_outcomes(org, hours=24) -> [HourlyOutcomes(start, completed, failed, cancelled)]

    # organisation profiles (custom TOML delivery specs; validated by kickflow.profiles.catalog)
    save_org_profile(org, name, source, user_id) -> OrgProfile   org_profiles(org)
    org_profile(org, name) -> OrgProfile | None   delete_org_profile(org, name) -> bool

    # transcription usage (TranscriptionUsage; KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES)
    transcription_used_s(org, day) -> float   add_transcription_usage(org, day, seconds)

    # control (IllegalTransition on a wrong state, JobNotFound outside the org)
    cancel(org, id)  pause(org, id)  resume(org, id)  retry(org, id) == requeue(org, id)
    cancel_many / pause_many / resume_many / retry_many(org, ids) -> BulkResult(done, refused)
    retry_failed(org)  retry_stuck(org)  cancel_stuck(org)  reap() -> ReapResult
    retry_stuck_job(org, id)  cancel_stuck_job(org, id)   # RequestInvalid unless stuck now
    delete_job(org, id) -> the job as it was last (an active one is cancelled first)

    # worker side (WorkerPort): every write fenced on the lease, LeaseLost when taken over
    [Claimed(job, lease)] = store.claim(worker_id, limit=1)
    store.heartbeat(lease, progress, phase) -> HeartbeatReply(lease_held, cancel_requested,
    pause_requested)   complete(lease, verdict, report)   fail(lease, code, msg, permanent=)
    complete_many([(lease, verdict, report), ...]) -> [accepted?]
    release(lease)   acknowledge_cancel(lease)   acknowledge_pause(lease)
    register_worker(id, host, pid, concurrency)   worker_heartbeat(id, state)   prune_workers()

    # the worker process around all this: kickflow.worker.Worker(store, settings, concurrency=)

Guarantee: at-least-once execution, at most one accepted result per job (fenced writes); the
pipeline gets ``(job_id, attempt)`` as an idempotency key. Times are epoch seconds from the
database clock. Job states and legal changes: :mod:`kickflow.jobs.states`.
"""

from __future__ import annotations

from kickflow.jobs import sources
from kickflow.jobs.accounts import (
    LOCAL_ORG,
    ROLES,
    USER_ROLES,
    WORKER_ROLE,
    IssuedToken,
    Principal,
    Role,
    TokenInfo,
)
from kickflow.jobs.models import (
    BulkResult,
    Claimed,
    HeartbeatReply,
    Job,
    JobEvent,
    JobInputs,
    Lease,
    ReapResult,
    Sidecar,
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
from kickflow.jobs.port import JobStore, TranscriptionUsage, WorkerPort
from kickflow.jobs.queries import Page
from kickflow.jobs.queue import DEFAULT_PROFILE, NewJob
from kickflow.jobs.states import ACTIVE, TERMINAL, JobState
from kickflow.jobs.stats import JobHistory
from kickflow.jobs.store import SqlJobStore
from kickflow.jobs.throughput import HourlyOutcomes

__all__ = [
    "ACTIVE",
    "DEFAULT_PROFILE",
    "LOCAL_ORG",
    "ROLES",
    "TERMINAL",
    "USER_ROLES",
    "WORKER_ROLE",
    "BulkResult",
    "Claimed",
    "HeartbeatReply",
    "HourlyOutcomes",
    "Invitation",
    "IssuedInvitation",
    "IssuedSession",
    "IssuedToken",
    "Job",
    "JobEvent",
    "JobHistory",
    "JobInputs",
    "JobState",
    "JobStore",
    "Lease",
    "Membership",
    "NewJob",
    "OrgProfile",
    "Page",
    "Principal",
    "ReapResult",
    "Role",
    "Sidecar",
    "SqlJobStore",
    "TokenInfo",
    "TranscriptionUsage",
    "User",
    "WebSession",
    "WorkerInfo",
    "WorkerPort",
    "sources",
]
