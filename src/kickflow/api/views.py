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
    if job.source_type == "url":
        from kickflow.net.policy import shown_url

        return {"type": "url", "url": shown_url(job.source_ref)}  # no query: it may be signed
    if job.source_type == "drive":
        return {"type": "drive", "name": job.file_name}  # ids of the connection stay internal
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
        "inputs": inputs(job),
        **timed_text(job),
        "history": [event(ev) for ev in history],
    }


def inputs(job: Job) -> dict[str, Any]:
    """What the job is checked with besides its file: the subtitle files delivered with it
    (by their delivered names; a path as submitted, an upload's storage location internal)
    and the source timecode that overrides the file's."""
    return {
        "timecodeStart": job.inputs.timecode_start,
        "subtitles": [
            {
                "name": s.name,
                "size": s.size,
                "source": {"type": "path", "path": s.source_ref}
                if s.source_type == "path"
                else {"type": s.source_type},
            }
            for s in job.inputs.subtitles
        ],
    }


def file_name_parts(job: Job) -> dict[str, Any] | None:
    """The parts of the file name under the profile's convention (episode, language …), from
    the report; None before the report, without a convention or when the name does not fit."""
    delivery = (job.report or {}).get("delivery") or {}
    parts: dict[str, Any] | None = delivery.get("file_name_parts")
    return parts


def timed_text(job: Job) -> dict[str, Any]:
    """``subtitles`` and ``speech``: a summary of the report's sections (None when it has none:
    no report yet, or one from before schema 3); cues and transcripts stay in the report."""
    report = job.report or {}
    files, tracks = report.get("subtitles"), report.get("speech")
    return {
        "subtitles": None if files is None else [_subtitle_file(f) for f in files],
        "speech": None if tracks is None else [_speech_track(t) for t in tracks],
    }


def _subtitle_file(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f.get("name"),
        "format": f.get("format"),
        "language": f.get("language"),
        "streamIndex": f.get("stream_index"),
        "cueCount": f.get("cue_count"),
        "problemCount": f.get("problem_count"),
        "error": f.get("error"),
    }


def _speech_track(t: dict[str, Any]) -> dict[str, Any]:
    transcript = t.get("transcript") or {}
    return {
        "track": t.get("position"),
        "speechSeconds": t.get("speech_s"),
        "share": t.get("share"),
        "segmentCount": t.get("segment_count"),
        "transcriptLanguage": transcript.get("language"),
        "transcriptSegments": transcript.get("segment_count"),
        "transcriptionError": t.get("transcription_error"),
    }


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
