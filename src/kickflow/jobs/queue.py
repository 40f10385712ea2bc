"""User-side queue operations: enqueue, cancel, pause, resume, requeue. Each runs inside one
write transaction handed in by :class:`kickflow.jobs.store.SqlJobStore`.

Enqueue admits a job only while its organisation has fewer than ``max_queued`` queued jobs
(``KICKFLOW_ORG_MAX_QUEUED``); a refused batch enqueues nothing. On PostgreSQL the
organisation's row is locked for the count, so concurrent submissions cannot overshoot it.
Priority orders an organisation's own jobs only; see :mod:`kickflow.jobs.claim`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.errors import JobNotFound, QueueLimitReached, RequestInvalid
from kickflow.jobs import states
from kickflow.jobs.models import Job, JobInputs
from kickflow.jobs.ops import (
    add_event,
    cleared_lease,
    event_insert,
    guarded,
    load_for_update,
    stuck,
)
from kickflow.jobs.schema import job_events, jobs, organisations, state_is
from kickflow.jobs.sqlfuncs import db_now
from kickflow.jobs.states import JobState

DEFAULT_PROFILE = "default"
# Creation times of an organisation's jobs are made distinct by at least this: "oldest first"
# and the list's cursor order by (created_at, id), and the id is random.
CREATION_TICK_S = 1e-6
QUEUED = JobState.QUEUED.value


@dataclass(frozen=True)
class NewJob:
    """What a caller submits."""

    org_id: str
    source_type: str
    source_ref: str
    file_name: str
    profile: str
    max_attempts: int
    project: str | None = None
    priority: int = 0
    idempotency_key: str | None = None
    file_size: int | None = None
    delay_seconds: float = 0.0
    profile_source: str | None = None  # a custom profile's TOML, snapshotted into the job
    inputs: JobInputs = field(default_factory=JobInputs)  # subtitle files, per-job options


def find_by_key(conn: Connection, org_id: str, key: str) -> Job | None:
    row = (
        conn.execute(sa.select(jobs).where(jobs.c.org_id == org_id, jobs.c.idempotency_key == key))
        .mappings()
        .first()
    )
    return Job.from_row(row) if row else None


def queued_count(conn: Connection, org_id: str) -> int:
    """Queued jobs of ``org_id`` (waiting to run, due or not)."""
    stmt = sa.select(sa.func.count()).where(jobs.c.org_id == org_id, state_is(QUEUED))
    return int(conn.execute(stmt).scalar_one())


def ensure_room(conn: Connection, org_id: str, adding: int, max_queued: int) -> None:
    """QueueLimitReached unless ``org_id`` can take ``adding`` more queued jobs."""
    lock = sa.select(organisations.c.id).where(organisations.c.id == org_id)
    conn.execute(lock.with_for_update(key_share=True))  # FOR NO KEY UPDATE: FK checks pass
    queued = queued_count(conn, org_id)
    if queued + adding > max_queued:
        raise QueueLimitReached(queue_full_message(queued, adding, max_queued))


def queue_full_message(queued: int, adding: int, max_queued: int) -> str:
    what = "a job" if adding == 1 else f"{adding} jobs"
    return (
        f"queue limit reached: your organisation has {queued} queued jobs and the limit is "
        f"{max_queued} (KICKFLOW_ORG_MAX_QUEUED), so {what} cannot be added; "
        "try again when some have started"
    )


def enqueue(conn: Connection, new: NewJob, max_queued: int) -> Job:
    """Insert a queued job, or return the existing one with the same idempotency key;
    QueueLimitReached when the organisation already has ``max_queued`` queued jobs."""
    if new.idempotency_key:
        existing = find_by_key(conn, new.org_id, new.idempotency_key)
        if existing:
            return existing
    ensure_room(conn, new.org_id, 1, max_queued)
    return _insert(conn, new)


def last_created(org_id: str) -> sa.ScalarSelect[float]:
    """When the organisation's newest job was created (NULL: it has none)."""
    newest = sa.select(sa.func.max(jobs.c.created_at)).where(jobs.c.org_id == org_id)
    return newest.scalar_subquery()


def creation_times(last: float | None, now: float, count: int) -> list[float]:
    """Increasing creation times for ``count`` new jobs of an organisation, after its ``last``.

    The database clock alone ties them: SQLite's has millisecond steps, and a batch is one
    statement with one clock. Writers are serialised (SQLite) or a statement apart on
    PostgreSQL's microsecond clock, so no two jobs of one organisation share a time.
    """
    start = now if last is None else max(now, float(last) + CREATION_TICK_S)
    return [start + i * CREATION_TICK_S for i in range(count)]


def _insert(conn: Connection, new: NewJob) -> Job:
    clock, last = conn.execute(sa.select(db_now(), last_created(new.org_id))).one()
    now = float(clock)
    (created,) = creation_times(last, now, 1)
    row = (
        conn.execute(
            sa.insert(jobs)
            .values(
                id=str(uuid.uuid4()),
                org_id=new.org_id,
                project=new.project,
                file_name=new.file_name,
                file_size=new.file_size,
                source_type=new.source_type,
                source_ref=new.source_ref,
                profile=new.profile,
                profile_source=new.profile_source,
                inputs=new.inputs.to_json(),
                idempotency_key=new.idempotency_key,
                state=JobState.QUEUED.value,
                max_attempts=new.max_attempts,
                priority=new.priority,
                run_at=now + new.delay_seconds,
                created_at=created,
                updated_at=now,
            )
            .returning(*jobs.c)
        )
        .mappings()
        .one()
    )
    job = Job.from_row(row)
    add_event(conn, job, "enqueued", to_state=job.state.value)
    return job


def _row(new: NewJob, now: float, created: float) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()), "org_id": new.org_id, "project": new.project,
        "file_name": new.file_name, "file_size": new.file_size,
        "source_type": new.source_type, "source_ref": new.source_ref, "profile": new.profile,
        "profile_source": new.profile_source, "inputs": new.inputs.to_json(),
        "idempotency_key": None,
        "state": JobState.QUEUED.value,
        "max_attempts": new.max_attempts, "priority": new.priority,
        "run_at": now + new.delay_seconds, "created_at": created, "updated_at": now,
    }  # fmt: skip


def _new_per_org(conn: Connection, items: Sequence[NewJob]) -> Counter[str]:
    """How many jobs of the batch would be new, per organisation (known keys are not)."""
    plain = Counter(n.org_id for n in items if not n.idempotency_key)
    keys = {(n.org_id, n.idempotency_key) for n in items if n.idempotency_key}
    plain.update(org for org, key in keys if key and find_by_key(conn, org, key) is None)
    return plain


def enqueue_many(conn: Connection, items: Sequence[NewJob], max_queued: int) -> list[Job]:
    """Queue a batch in one transaction (jobs with idempotency keys go one by one); when any
    organisation would exceed ``max_queued`` queued jobs, QueueLimitReached and nothing."""
    for org_id, adding in sorted(_new_per_org(conn, items).items()):  # sorted: lock order
        ensure_room(conn, org_id, adding, max_queued)
    plain = [n for n in items if not n.idempotency_key]
    now = float(conn.execute(sa.select(db_now())).scalar_one())
    inserted: list[Job] = []
    if plain:
        per_org = Counter(n.org_id for n in plain)
        times = {
            org: iter(creation_times(conn.execute(sa.select(last_created(org))).scalar(), now, k))
            for org, k in per_org.items()
        }
        values = [_row(n, now, next(times[n.org_id])) for n in plain]
        stmt = sa.insert(jobs).returning(*jobs.c, sort_by_parameter_order=True)
        rows = conn.execute(stmt, values).mappings().all()
        inserted = [Job.from_row(r) for r in rows]
        conn.execute(event_insert(), [_enqueued_event(j) for j in inserted])
    fresh = iter(inserted)
    return [
        (find_by_key(conn, n.org_id, n.idempotency_key) or _insert(conn, n))
        if n.idempotency_key
        else next(fresh)
        for n in items
    ]


def _enqueued_event(job: Job) -> dict[str, object]:
    return {
        "job_id": job.id, "org_id": job.org_id, "kind": "enqueued", "from_state": None,
        "to_state": job.state.value, "attempt": 0, "worker_id": None, "code": None,
        "message": None,
    }  # fmt: skip


def locked(conn: Connection, org_id: str | None, job_id: str) -> Job:
    """The job (row-locked), scoped to ``org_id`` unless None; JobNotFound otherwise."""
    where = jobs.c.id == job_id
    if org_id is not None:
        where = sa.and_(where, jobs.c.org_id == org_id)
    job = load_for_update(conn, where)
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job


def locked_stuck(conn: Connection, org_id: str | None, job_id: str, stuck_after: float) -> Job:
    """The job (row-locked) if it is stuck now: decided under the lock, so a job that moved
    again since it was listed as stuck is left alone (RequestInvalid); JobNotFound outside
    ``org_id``."""
    where = sa.and_(jobs.c.id == job_id, stuck(stuck_after))
    if org_id is not None:
        where = sa.and_(where, jobs.c.org_id == org_id)
    job = load_for_update(conn, where)
    if job is not None:
        return job
    current = locked(conn, org_id, job_id)
    if current.state is JobState.RUNNING:
        raise RequestInvalid(f"job {job_id} is running and making progress: not stuck, left alone")
    raise RequestInvalid(f"job {job_id} is {current.state.value}, not stuck: left alone")


def apply(
    conn: Connection, job: Job, action: str, kind: str, message: str | None = None, **values: object
) -> Job:
    """Run ``action`` on a locked job through the state machine and record it."""
    target = states.check(action, job.state)
    row = (
        conn.execute(guarded(action, jobs.c.id == job.id).values(**values).returning(*jobs.c))
        .mappings()
        .one()
    )
    code = values.get("error_code")
    add_event(
        conn, job, kind, to_state=target.value, message=message, code=str(code) if code else None
    )
    return Job.from_row(row)


def _flag(conn: Connection, job: Job, column: str, kind: str, message: str) -> Job:
    row = (
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == job.id, jobs.c.state == JobState.RUNNING.value)
            .values({column: True, "updated_at": db_now()})
            .returning(*jobs.c)
        )
        .mappings()
        .one()
    )
    add_event(conn, job, kind, to_state=job.state.value, message=message)
    return Job.from_row(row)


def cancel(conn: Connection, job: Job, reason: str = "cancelled on request") -> Job:
    """Queued/paused ⇒ cancelled now; running ⇒ flagged, the worker stops at its next beat."""
    if job.state is JobState.RUNNING:
        return _flag(conn, job, "cancel_requested", "cancel_requested", reason)
    return apply(
        conn,
        job,
        "cancel",
        "cancelled",
        reason,
        error_code="cancelled",
        error_message=reason,
        finished_at=db_now(),
        **cleared_lease(),
    )


def pause(conn: Connection, job: Job) -> Job:
    """Queued ⇒ paused now; running ⇒ flagged, the worker stops and the job becomes paused."""
    if job.state is JobState.RUNNING:
        return _flag(conn, job, "pause_requested", "pause_requested", "pause requested")
    return apply(conn, job, "pause", "paused", "paused on request")


def resume(conn: Connection, job: Job) -> Job:
    """Paused ⇒ queued (starts again from the beginning); a pending pause request is dropped."""
    if job.state is JobState.RUNNING and job.pause_requested:
        row = (
            conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job.id)
                .values(pause_requested=False, updated_at=db_now())
                .returning(*jobs.c)
            )
            .mappings()
            .one()
        )
        add_event(conn, job, "resumed", to_state=job.state.value, message="pause request withdrawn")
        return Job.from_row(row)
    return apply(
        conn,
        job,
        "resume",
        "resumed",
        "resumed",
        run_at=db_now(),
        progress=0,
        phase=None,
        pause_requested=False,
    )


def requeue(conn: Connection, job: Job, reason: str = "re-queued on request") -> Job:
    """Failed, cancelled or completed ⇒ queued with attempts reset; the history is kept."""
    return apply(
        conn,
        job,
        "requeue",
        "requeued",
        reason,
        attempt=0,
        lease_losses=0,
        run_at=db_now(),
        progress=0,
        phase=None,
        progress_at=None,
        cancel_requested=False,
        pause_requested=False,
        error_code=None,
        error_message=None,
        verdict=None,
        report=None,
        finished_at=None,
        started_at=None,
        heartbeat_at=None,
        **cleared_lease(),
    )


def retry_stuck_now(conn: Connection, job: Job, reason: str) -> Job:
    """An operator re-queues a stuck running job at once (its worker is fenced off)."""
    return apply(
        conn,
        job,
        "reap_requeue",
        "requeued",
        reason,
        run_at=db_now(),
        progress=0,
        phase=None,
        cancel_requested=False,
        pause_requested=False,
        **cleared_lease(),
    )


def cancel_stuck(conn: Connection, job: Job, reason: str) -> Job:
    """An operator ends a stuck running job as cancelled, with the reason."""
    return apply(
        conn,
        job,
        "cancel_stuck",
        "cancelled",
        reason,
        error_code="cancelled_stuck",
        error_message=reason,
        finished_at=db_now(),
        **cleared_lease(),
    )


def delete(conn: Connection, org_id: str | None, job_id: str) -> Job:
    """Delete a job and its history; a queued or paused job is cancelled first, a running
    one's worker loses its lease at its next heartbeat and stops. Returns the job as it was
    last (JobNotFound outside ``org_id``)."""
    job = locked(conn, org_id, job_id)
    if job.state in (JobState.QUEUED, JobState.PAUSED):
        job = cancel(conn, job, "cancelled: job deleted")
    conn.execute(sa.delete(job_events).where(job_events.c.job_id == job.id))
    done = conn.execute(sa.delete(jobs).where(jobs.c.id == job.id))
    if not done.rowcount:
        raise JobNotFound(f"no job {job_id}")
    return job
