"""The runbook's debug endpoint: ``GET /api/qc/debug`` and ``POST /api/qc/debug {action}``
(admin only, scoped to the caller's organisation).

Operators (the ``operator`` role: the people who run the service) may ask for every
organisation with ``allOrganisations`` (``?allOrganisations=true`` on GET, ``"allOrganisations":
true`` for retry_stuck and cancel_stuck); their trigger_worker acts on every slot. Anyone else
asking for it gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol, cast

from fastapi import APIRouter, Query

from kickflow.api import views
from kickflow.api.auth import Admin
from kickflow.api.context import Services, Svc
from kickflow.api.schemas import DEBUG_ACTIONS, DebugAction
from kickflow.api.tokens import Principal
from kickflow.errors import KickflowError, PermissionDenied, RequestInvalid, UnknownAction
from kickflow.jobs.models import Job
from kickflow.jobs.states import JobState

router = APIRouter(prefix="/api/qc", tags=["debug"])
AllOrganisations = Annotated[
    bool, Query(alias="allOrganisations", description="operators only: every organisation")
]


class ScopedWorkerControl(Protocol):
    """The embedded slots' trigger, scoped: ``org_id`` None acts on every slot.

    ``context.WorkerControl.trigger`` should declare the parameter; until it does, the cast
    below fails loudly (TypeError) rather than silently acting on every organisation."""

    def trigger(self, org_id: str | None = None) -> dict[str, object]: ...


def scope(principal: Principal, all_organisations: bool) -> str | None:
    """The organisation an action is limited to; None (every one) only for operators."""
    if not all_organisations:
        return principal.org_id
    if not principal.is_operator:
        raise PermissionDenied(
            f"allOrganisations needs the operator role; your token is {principal.role}"
        )
    return None


@router.get("/debug", summary="Counts, stuck jobs, recent errors and live workers (admin)")
def debug(
    principal: Admin, svc: Svc, all_organisations: AllOrganisations = False
) -> dict[str, Any]:
    store, org = svc.store, scope(principal, all_organisations)
    workers = store.live_workers()
    return {
        "counts": store.counts(org),
        "stuckJobs": [views.stuck_job(j) for j in store.stuck_jobs(org)],
        "recentErrors": [views.event(e) | {"jobId": e.job_id} for e in store.recent_errors(org)],
        "workers": [
            {
                "id": w.id,
                "hostname": w.hostname,
                "pid": w.pid,
                "concurrency": w.concurrency,
                "state": w.state,
                "lastHeartbeatAt": views.iso(w.heartbeat_at),
            }
            for w in workers
        ],
        "reaper": store.reaper_status()
        | {"interval_seconds": svc.settings.reaper_interval_seconds},
        "queuePaused": store.queue_paused(),
    }


def _retry_one(svc: Services, org_id: str | None, job_id: str) -> Job:
    """Re-queue one job: a stuck running one at once (its worker is fenced off), others via
    the dead-letter redrive."""
    job = svc.store.get(org_id, job_id)
    if job.state is not JobState.RUNNING:
        return svc.store.retry(org_id, job_id, "re-queued by an operator (retry_specific)")
    return svc.store.retry_stuck_job(org_id, job_id)


def retry_specific(svc: Services, p: Principal, req: DebugAction) -> dict[str, Any]:
    if req.all_organisations:
        raise RequestInvalid("allOrganisations is for retry_stuck, cancel_stuck and trigger_worker")
    if (req.job_id is None) == (req.job_ids is None):
        raise RequestInvalid("retry_specific needs exactly one of jobId or jobIds")
    ids = [req.job_id] if req.job_id else list(dict.fromkeys(req.job_ids or []))
    return retry_jobs(svc, p.org_id, ids)


def retry_jobs(svc: Services, org_id: str | None, ids: list[str]) -> dict[str, Any]:
    """retry_specific's work on ``ids`` in ``org_id`` (None: every organisation, for an
    operator's Operations page). One job: its error is raised (404, 409 …); several: each
    refusal is reported with its reason."""
    if len(ids) == 1:
        return views.bulk([_retry_one(svc, org_id, ids[0])], {})
    done, refused = [], {}
    for job_id in ids:
        try:
            done.append(_retry_one(svc, org_id, job_id))
        except KickflowError as exc:
            refused[job_id] = exc.message
    return views.bulk(done, refused)


def retry_stuck(svc: Services, p: Principal, req: DebugAction) -> dict[str, Any]:
    result = svc.store.retry_stuck(scope(p, req.all_organisations))
    return views.bulk(result.done, result.refused)


def cancel_stuck(svc: Services, p: Principal, req: DebugAction) -> dict[str, Any]:
    result = svc.store.cancel_stuck(scope(p, req.all_organisations))
    return views.bulk(result.done, result.refused)


def trigger_worker(svc: Services, p: Principal, req: DebugAction) -> dict[str, Any]:
    """Waking idle slots is everyone's; replacing a hung one that holds another
    organisation's job is an operator's (an operator always acts on every slot)."""
    org = None if p.is_operator else scope(p, req.all_organisations)
    live = len(svc.store.live_workers())
    if svc.workers is None:
        return {
            "embedded": False,
            "liveWorkers": live,
            "message": "no embedded workers in this process (--workers 0); "
            "remote workers poll every KICKFLOW_POLL_SECONDS",
        }
    workers = cast(ScopedWorkerControl, svc.workers)
    return {"embedded": True, "liveWorkers": live, **workers.trigger(org)}


ACTIONS: dict[str, Callable[[Services, Principal, DebugAction], dict[str, Any]]] = {
    "retry_specific": retry_specific,
    "retry_stuck": retry_stuck,
    "cancel_stuck": cancel_stuck,
    "trigger_worker": trigger_worker,
}
assert tuple(ACTIONS) == DEBUG_ACTIONS


@router.post("/debug", summary="Run a recovery action (admin)")
def act(req: DebugAction, principal: Admin, svc: Svc) -> dict[str, Any]:
    action = ACTIONS.get(req.action)
    if action is None:
        raise UnknownAction(
            f"unknown action {req.action!r}: valid actions are {', '.join(DEBUG_ACTIONS)}"
        )
    return {"action": req.action, **action(svc, principal, req)}
