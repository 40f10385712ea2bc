"""The Operations page (admins): what ``/api/health/full`` and ``GET /api/qc/debug`` say, the
runbook's recovery actions as buttons, the dead-letter list with bulk requeue, the workers,
the global queue pause, throughput charts, and each alert's runbook.

Scope is the runbook's: an admin sees and acts on the organisation's own jobs; an ``operator``
(who runs the service) on every organisation's. The actions are the debug endpoint's own
functions (:mod:`kickflow.api.routes.debug`), so the page and the runbook's ``curl`` can never
disagree. Each action asks first: with JavaScript a dialog (``data-confirm``), without it a
confirmation page; the action only runs when the form says ``confirmed=yes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from kickflow.api.context import Services, Svc
from kickflow.api.health import google_reconnect_list
from kickflow.api.routes import debug
from kickflow.api.schemas import ID_PATTERN, DebugAction
from kickflow.errors import DatabaseError, KickflowError, NotFound, PermissionDenied, RequestInvalid
from kickflow.jobs import Job, JobState, WorkerInfo
from kickflow.web import charts, runbooks
from kickflow.web.session import AdminPage, PageUser
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)

FAILED_PAGE = 50
MAX_SELECTED = 1000
JOB_ID = re.compile(ID_PATTERN)
COMPONENT_NAMES = {
    "database": "Database",
    "storage": "Storage",
    "qc_worker": "QC workers",
    "ffmpeg": "FFmpeg",
    "groq_api": "Transcription (Groq)",
    "google_oauth": "Google sign-in (Drive)",
    "reaper": "Stuck-job reaper",
}


@dataclass(frozen=True)
class Action:
    """One button of the page: what it asks before it runs, and who may press it."""

    label: str
    question: str  # the confirmation, with {n} for the number of jobs concerned
    danger: bool = False
    operator_only: bool = False


ACTIONS = {
    "retry_job": Action("Retry", "Re-queue job {job} now? Its worker is fenced off."),
    "retry_stuck": Action("Retry stuck", "Re-queue every stuck job now ({n})?"),
    "cancel_stuck": Action("Cancel stuck", "Cancel every stuck job ({n})?", danger=True),
    "trigger_worker": Action(
        "Trigger worker", "Wake idle worker slots and replace dead or hung ones?"
    ),
    "requeue_failed": Action("Requeue selected", "Re-queue {n} selected failed jobs?"),
    "pause_queue": Action(
        "Pause queue",
        "Pause the queue? No organisation's jobs start until it is resumed.",
        danger=True,
        operator_only=True,
    ),
    "resume_queue": Action("Resume queue", "Resume the queue?", operator_only=True),
}


PER_JOB = ("retry_job", "requeue_failed")  # the actions on the jobs the form names


def scope_of(user: PageUser) -> str | None:
    """The organisation the page shows and acts on; None (every one) for an operator."""
    return debug.scope(user.principal, user.principal.is_operator)


def ago(now: float, then: float | None) -> str:
    """``then`` relative to ``now`` in words: "12 s ago", "4 min ago", "never"."""
    if then is None:
        return "never"
    seconds = max(0, int(now - then))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


# --- the page -----------------------------------------------------------------------------------


@router.get("/ops", response_class=HTMLResponse)
async def ops_page(
    request: Request, user: AdminPage, svc: Svc, failed_cursor: str | None = None
) -> Response:
    """Health, stuck jobs, actions, dead letters, workers, the queue, charts and alerts."""
    components = await svc.health.components()
    view = await run_in_threadpool(_gather, svc, user, failed_cursor)
    health = [{"key": k, "name": COMPONENT_NAMES.get(k, k), **v} for k, v in components.items()]
    # Who must reconnect Google Drive: tenant data, so here and not in /api/health/full.
    reconnect = await run_in_threadpool(google_reconnect_list, svc.store, scope_of(user))
    return render(request, "ops/ops.html", view | {"health": health, "reconnect": reconnect})


def _gather(svc: Services, user: PageUser, failed_cursor: str | None) -> dict[str, Any]:
    """Everything the page reads from the store, in the page's scope (blocking: a pool thread)."""
    store, org = svc.store, scope_of(user)
    now = store.now()
    failed = store.list_jobs(
        org, state=JobState.FAILED.value, cursor=failed_cursor, limit=FAILED_PAGE
    )
    running = store.list_jobs(org, state=JobState.RUNNING.value, limit=200).jobs
    hours = store.hourly_outcomes(org, hours=24)
    return {
        "now": now,
        "ago": lambda then: ago(now, then),
        "everyone": org is None,
        "operator": user.principal.is_operator,
        "counts": store.counts(org),
        "stuck": store.stuck_jobs(org),
        "failed": failed.jobs,
        "failed_next": failed.next_cursor,
        "failed_cursor": failed_cursor,
        "workers": _workers(store.live_workers(), running),
        "paused": store.queue_paused(),
        "reaper": store.reaper_status(),
        "throughput": charts.throughput_chart(hours),
        "failure_rate": charts.failure_rate_chart(hours),
        "hours": hours,
        "alerts": runbooks.alerts(),
        "actions": ACTIONS,
    }


def _workers(live: list[WorkerInfo], running: list[Job]) -> list[dict[str, Any]]:
    """Each live worker with the running jobs of the page's scope that it holds."""
    by_worker: dict[str, list[Job]] = {}
    for job in running:
        if job.worker_id:
            by_worker.setdefault(job.worker_id, []).append(job)
    return [{"info": w, "jobs": by_worker.get(w.id, [])} for w in live]


# --- actions ------------------------------------------------------------------------------------


FormText = Annotated[str, Form()]


@router.post("/ops/actions", response_class=HTMLResponse)
def ops_action(
    request: Request,
    user: AdminPage,
    action: FormText = "",
    job_id: FormText = "",
    job_ids: Annotated[list[str] | None, Form()] = None,
    confirmed: FormText = "",
) -> Response:
    """Run one of the page's actions once confirmed; unconfirmed, the confirmation page."""
    svc: Services = request.app.state.services
    spec = ACTIONS.get(action)
    if spec is None:
        raise RequestInvalid(f"unknown action {action!r}")
    if spec.operator_only and not user.principal.is_operator:
        raise PermissionDenied(
            "Only an operator can pause or resume the queue: it stops every organisation."
        )
    ids = _job_ids([job_id] if job_id else job_ids or [])
    if action in PER_JOB and not ids:
        return redirect("/ops", "Select at least one job first.", "error")
    if confirmed != "yes":
        return _confirmation(request, svc, user, action, spec, ids)
    try:
        message = _run(svc, user, action, ids)
    except DatabaseError:
        raise
    except KickflowError as exc:
        return redirect("/ops", sentence(exc.message), "error")
    return redirect("/ops", message)


def _job_ids(ids: list[str]) -> list[str]:
    """The ids asked for, each checked, duplicates once (RequestInvalid otherwise)."""
    unique = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if len(unique) > MAX_SELECTED:
        raise RequestInvalid(f"select at most {MAX_SELECTED} jobs at a time")
    bad = next((i for i in unique if not JOB_ID.fullmatch(i)), None)
    if bad is not None:
        raise RequestInvalid("that is not a job id")
    return unique


def _confirmation(
    request: Request, svc: Services, user: PageUser, action: str, spec: Action, ids: list[str]
) -> Response:
    """The no-JavaScript confirmation step: the question and the same form, confirmed."""
    org = scope_of(user)
    if action in ("retry_stuck", "cancel_stuck"):
        count = len(svc.store.stuck_jobs(org))
    else:
        count = len(ids)
    job = svc.store.get(org, ids[0]).file_name if action == "retry_job" and ids else ""
    question = spec.question.format(n=count, job=job)
    context = {"action": action, "spec": spec, "question": question, "ids": ids}
    return render(request, "ops/confirm.html", context)


def _run(svc: Services, user: PageUser, action: str, ids: list[str]) -> str:
    """Do it; what happened, in one sentence."""
    p, org = user.principal, scope_of(user)
    if action in PER_JOB:
        return _done("re-queued", debug.retry_jobs(svc, org, ids))
    if action == "pause_queue":
        svc.store.pause_queue()
        return "The queue is paused: no new job starts until it is resumed."
    if action == "resume_queue":
        svc.store.resume_queue()
        return "The queue is running again."
    req = DebugAction.model_validate({"action": action, "allOrganisations": org is None})
    answer = debug.ACTIONS[action](svc, p, req)
    if action == "trigger_worker":
        return _triggered(answer)
    return _done("re-queued" if action == "retry_stuck" else "cancelled", answer)


def _done(verb: str, answer: dict[str, Any]) -> str:
    """ "2 jobs re-queued; 1 refused: job … is running." from a bulk answer."""
    done, refused = len(answer["jobs"]), answer["refused"]
    text = f"{done} job{'' if done == 1 else 's'} {verb}"
    if refused:
        text += f"; {len(refused)} refused: {refused[0]['message']}"
    return sentence(text)


def _triggered(answer: dict[str, Any]) -> str:
    if not answer.get("embedded"):
        return sentence(str(answer.get("message", "no embedded workers in this process")))
    return f"Worker slots triggered ({answer.get('liveWorkers', 0)} live workers)."


# --- runbooks -----------------------------------------------------------------------------------


@router.get("/ops/runbooks/{name}", response_class=HTMLResponse)
def runbook_page(request: Request, user: AdminPage, name: str) -> Response:
    """One runbook, rendered from its markdown."""
    text = runbooks.source(name)
    if text is None:
        raise NotFound("There is no such runbook.")
    context = {"title": runbooks.title(text), "body": runbooks.html(text), "name": name}
    return render(request, "ops/runbook.html", context)
