"""The durable QC job queue on SQLite or PostgreSQL.

Public API (everything else in this package is internal)::

    from kickflow.jobs import JobStore, JobState, sources

    store = SqlJobStore()                      # KICKFLOW_DATABASE_URL or SQLite under data_dir;
    store = SqlJobStore(url, settings)         # raises DatabaseNotMigrated if `kickflow db upgrade`
    store.migrate()                         # is needed (or SqlJobStore(url, check_migrated=False))
    store.engine                            # the SQLAlchemy Engine; tables in kickflow.jobs.schema

    # organisations, global pause
    org = store.ensure_org("local")  create_org(name, max_running)  org_id_by_name(name)
    set_org_cap(org, n)  pause_queue()  resume_queue()  queue_paused()

    # submit and read (org_id=None means every organisation: operators and local CLI only)
    info = sources.inspect("path"|"upload", ref, settings)  # -> SourceInfo(file_name, size)
    job = store.enqueue(org, "path", ref, file_name=..., profile=..., project=, priority=,
                        idempotency_key=, file_size=, max_attempts=)
    jobs = store.enqueue_many([store.new_job(org, "upload", ref, file_name=...), ...])
    store.get(org, job_id) -> Job (JobNotFound)    store.list_jobs(org, state=, verdict=, project=,
    cursor=, limit=) -> Page(jobs, next_cursor)    store.events(job_id, org) -> [JobEvent]
    store.counts(org) -> {state: n, ..., "stuck": n}    store.stuck_jobs(org)
    store.recent_errors(org)   store.oldest_queued_age(org)   store.changed_since(org, t)
    store.now()   store.live_workers() -> [WorkerInfo]   store.reaper_status()

    # control (IllegalTransition on a wrong state, JobNotFound outside the org)
    cancel(org, id)  pause(org, id)  resume(org, id)  retry(org, id) == requeue(org, id)
    cancel_many / pause_many / resume_many / retry_many(org, ids) -> BulkResult(done, refused)
    retry_failed(org)  retry_stuck(org)  cancel_stuck(org)  reap() -> ReapResult

    # worker side: every write fenced on the lease, LeaseLost when it was taken over
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
from kickflow.jobs.models import (
    Claimed,
    HeartbeatReply,
    Job,
    JobEvent,
    Lease,
    ReapResult,
    WorkerInfo,
)
from kickflow.jobs.port import WorkerPort
from kickflow.jobs.queries import Page
from kickflow.jobs.queue import DEFAULT_PROFILE, NewJob
from kickflow.jobs.registry import LOCAL_ORG
from kickflow.jobs.states import ACTIVE, TERMINAL, JobState
from kickflow.jobs.store import BulkResult, SqlJobStore

# The store the API and the CLI use (becomes a protocol with its own implementations).
JobStore = SqlJobStore

__all__ = [
    "ACTIVE",
    "DEFAULT_PROFILE",
    "LOCAL_ORG",
    "TERMINAL",
    "BulkResult",
    "Claimed",
    "HeartbeatReply",
    "Job",
    "JobEvent",
    "JobState",
    "JobStore",
    "Lease",
    "NewJob",
    "Page",
    "ReapResult",
    "SqlJobStore",
    "WorkerInfo",
    "WorkerPort",
    "sources",
]
