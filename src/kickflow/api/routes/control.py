"""Control: ``POST /api/qc/cancel``, ``/pause`` and ``/reprocess`` — exactly the jobs named."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kickflow.api import views
from kickflow.api.auth import Member
from kickflow.api.context import Svc
from kickflow.api.schemas import CancelRequest, OneOrMany, PauseRequest
from kickflow.errors import JobIsRunning, JobNotFound
from kickflow.jobs.models import Job
from kickflow.jobs.states import JobState

router = APIRouter(prefix="/api/qc", tags=["control"])


def existing(svc: Svc, org_id: str, ids: list[str]) -> list[Job]:
    """The organisation's jobs ``ids``; JobNotFound naming the first one that is not."""
    found = svc.store.jobs_by_ids(org_id, ids)
    missing = [i for i in ids if i not in {j.id for j in found}]
    if missing:
        raise JobNotFound(
            f"no job {missing[0]}" + (f" (and {len(missing) - 1} more)" if missing[1:] else "")
        )
    return found


@router.post("/cancel", summary="Cancel jobs (running ones stop within one heartbeat)")
def cancel(req: CancelRequest, principal: Member, svc: Svc) -> dict[str, Any]:
    if req.all:
        ids = svc.store.active_job_ids(principal.org_id)
    else:
        ids = [req.job_id] if req.job_id else list(dict.fromkeys(req.job_ids or []))
        existing(svc, principal.org_id, ids)
    result = svc.store.cancel_many(principal.org_id, ids)
    return views.bulk(result.done, result.refused)


@router.post("/pause", summary="Pause (queued/running) or resume (paused) jobs")
def pause(req: PauseRequest, principal: Member, svc: Svc) -> dict[str, Any]:
    ids = list(dict.fromkeys(req.job_ids))
    existing(svc, principal.org_id, ids)
    if req.action == "pause":
        result = svc.store.pause_many(principal.org_id, ids)
    else:
        result = svc.store.resume_many(principal.org_id, ids)
    return views.bulk(result.done, result.refused)


@router.post("/reprocess", summary="Run exactly these jobs again (a running job is refused: 409)")
def reprocess(req: OneOrMany, principal: Member, svc: Svc) -> dict[str, Any]:
    jobs = existing(svc, principal.org_id, req.ids())
    running = [j.id for j in jobs if j.state is JobState.RUNNING]
    if running:
        raise JobIsRunning(
            f"job {running[0]} is running: cancel it first or wait until it ends "
            "(nothing was re-queued)"
        )
    result = svc.store.retry_many(principal.org_id, req.ids())
    return views.bulk(result.done, result.refused)
