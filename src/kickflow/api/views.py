"""JSON shapes of jobs and their history (camelCase, ISO 8601 UTC times, no lease tokens)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kickflow.jobs.models import Job, JobEvent


def iso(epoch: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC with milliseconds."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def last_error(job: Job) -> dict[str, str] | None:
    if not job.error_code and not job.error_message:
        return None
    return {"code": job.error_code or "error", "message": job.error_message or ""}


def job_summary(job: Job) -> dict[str, Any]:
    """The fields lists and progress answers carry."""
    return {
        "id": job.id,
        "fileName": job.file_name,
        "project": job.project,
        "profile": job.profile,
        "state": job.state.value,
        "phase": job.phase,
        "progress": round(job.progress, 1),
        "attempt": job.attempt,
        "maxAttempts": job.max_attempts,
        "priority": job.priority,
        "verdict": job.verdict,
        "lastError": last_error(job),
        "createdAt": iso(job.created_at),
        "startedAt": iso(job.started_at),
        "finishedAt": iso(job.finished_at),
        "updatedAt": iso(job.updated_at),
    }


def source(job: Job) -> dict[str, Any]:
    """Where the file comes from (an upload's storage location stays internal)."""
    if job.source_type == "path":
        return {"type": "path", "path": job.source_ref}
    return {"type": job.source_type}


def event_message(ev: JobEvent) -> str | None:
    """An event's message for tenants: a worker id (host name and pid) becomes "a worker".

    The id stays in ``workerId`` for the runbook's matching against ``GET /api/qc/debug``."""
    if ev.message and ev.worker_id:
        return ev.message.replace(ev.worker_id, "a worker")
    return ev.message


def event(ev: JobEvent) -> dict[str, Any]:
    return {
        "at": iso(ev.at),
        "kind": ev.kind,
        "fromState": ev.from_state,
        "toState": ev.to_state,
        "attempt": ev.attempt,
        "workerId": ev.worker_id,
        "code": ev.code,
        "message": event_message(ev),
    }


def job_detail(job: Job, history: list[JobEvent]) -> dict[str, Any]:
    """Everything about one job, with its history oldest first."""
    return {
        **job_summary(job),
        "source": source(job),
        "fileSize": job.file_size,
        "idempotencyKey": job.idempotency_key,
        "workerId": job.worker_id,
        "heartbeatAt": iso(job.heartbeat_at),
        "progressAt": iso(job.progress_at),
        "runAt": iso(job.run_at),
        "cancelRequested": job.cancel_requested,
        "pauseRequested": job.pause_requested,
        "fileNameParts": file_name_parts(job),
        "history": [event(ev) for ev in history],
    }


def file_name_parts(job: Job) -> dict[str, Any] | None:
    """The parts of the file name under the profile's convention (episode, language …), from
    the report; None before the report, without a convention or when the name does not fit."""
    delivery = (job.report or {}).get("delivery") or {}
    parts: dict[str, Any] | None = delivery.get("file_name_parts")
    return parts


def progress(job: Job) -> dict[str, Any]:
    """The small shape of progress answers and server-sent events."""
    return {
        "id": job.id,
        "state": job.state.value,
        "phase": job.phase,
        "progress": round(job.progress, 1),
        "attempt": job.attempt,
        "verdict": job.verdict,
        "lastError": last_error(job),
        "updatedAt": iso(job.updated_at),
    }


def stuck_job(job: Job) -> dict[str, Any]:
    """One entry of ``stuckJobs`` in ``GET /api/qc/debug`` (the runbook's fields)."""
    return {
        "id": job.id,
        "fileName": job.file_name,
        "status": job.state.value,
        "state": job.state.value,
        "phase": job.phase,
        "progress": round(job.progress, 1),
        "attempt": job.attempt,
        "workerId": job.worker_id,
        "lastHeartbeatAt": iso(job.heartbeat_at),
        "lastProgressAt": iso(job.progress_at),
        "leaseExpiresAt": iso(job.lease_expires_at),
        "lastError": last_error(job),
    }


def bulk(done: list[Job], refused: dict[str, str]) -> dict[str, Any]:
    """The answer of bulk operations: what changed, what was refused and why."""
    return {
        "jobs": [job_summary(j) for j in done],
        "refused": [{"jobId": k, "message": v} for k, v in refused.items()],
    }
