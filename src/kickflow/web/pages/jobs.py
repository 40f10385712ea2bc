"""The Jobs page: ``GET /jobs`` — the organisation's jobs, newest first, with filters (a GET
form: works without JavaScript), cursor pagination and, for members, bulk retry / cancel /
delete (``POST /jobs/bulk``).

``jobs.js`` keeps the page live from ONE event stream (``/api/qc/events``): rows change in
place, and on the first page new jobs that match the filters appear at the top. Every bulk
action asks first: with JavaScript a dialog, without it a confirmation page; it only runs when
the form says ``confirmed=yes``, and the next page says what happened to each job.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from kickflow.api import uploads, views
from kickflow.api.context import Services, Svc
from kickflow.api.schemas import ID_PATTERN
from kickflow.errors import DatabaseError, JobError, KickflowError, RequestInvalid
from kickflow.jobs import BulkResult, Job
from kickflow.jobs.listing import VERDICTS
from kickflow.profiles.loader import builtin_profile_names
from kickflow.web import job_list
from kickflow.web.job_list import PAGE_SIZE, STATES, ListForm
from kickflow.web.session import MemberPage, PageUser, ViewerPage
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)

MAX_SELECTED = 500
JOB_ID = re.compile(ID_PATTERN)
CURSOR = re.compile(r"[A-Za-z0-9_=-]{1,500}")
FormText = Annotated[str, Form()]
ACTIONS = {
    "retry": ("Retry", "Run {n} again from the start?", False),
    "cancel": ("Cancel", "Cancel {n}? Running ones are asked to stop.", True),
    "delete": ("Delete", "Delete {n} and their reports? This cannot be undone.", True),
}


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, user: ViewerPage, svc: Svc) -> Response:
    """The list, filtered by the query string; bad filters: the form again with one sentence."""
    form = ListForm.from_query(request.query_params)
    cursor = request.query_params.get("cursor", "").strip() or None
    try:
        if cursor is not None and not CURSOR.fullmatch(cursor):
            raise RequestInvalid("That page link is broken: start again from the newest jobs.")
        page = svc.store.list_jobs(
            user.org_id, **form.store_filter(), cursor=cursor, limit=PAGE_SIZE
        )
    except DatabaseError:
        raise
    except (RequestInvalid, JobError) as exc:
        return _list(request, svc, user, form, [], None, cursor, sentence(exc.message))
    return _list(request, svc, user, form, page.jobs, page.next_cursor, cursor, None)


def _list(
    request: Request,
    svc: Services,
    user: PageUser,
    form: ListForm,
    jobs: list[Job],
    next_cursor: str | None,
    cursor: str | None,
    error: str | None,
) -> HTMLResponse:
    now = svc.store.now()  # the clock of created_at, for "4 min ago" and new jobs
    context: dict[str, Any] = {
        "form": form,
        "rows": [_row(job, now) for job in jobs],
        "states": STATES,
        "verdicts": VERDICTS,
        "profiles": _profile_names(svc, user.org_id),
        "can_act": user.may("member"),
        "actions": ACTIONS,
        "error": error,
        "older_url": form.url(next_cursor) if next_cursor else None,
        "newest_url": form.url() if cursor else None,
        "here": form.url(cursor),
        "live": _live(form, now, grows=cursor is None and not error),
    }
    return render(request, "jobs/list.html", context, status_code=400 if error else 200)


def _live(form: ListForm, now: float, *, grows: bool) -> dict[str, Any]:
    """What ``jobs.js`` needs to put a new job at the top: the filters it must match (the
    store's, checked by the page) and the time the page was made; only the first page grows."""
    return {"filters": form.store_filter() if grows else None, "since": now, "insert": grows}


def _row(job: Job, now: float) -> dict[str, Any]:
    """What a row shows, in the shape ``jobs.js`` gets from the event stream (plus times)."""
    return views.job_summary(job) | {
        "created": job.created_at,
        "ago": job_list.relative(now, job.created_at),
        "percent": round(job.progress),
    }


def _profile_names(svc: Services, org_id: str) -> list[str]:
    """The profiles a job of this organisation can have: built-in names, then its own."""
    return builtin_profile_names() + [p.name for p in svc.store.org_profiles(org_id)]


# --- bulk actions --------------------------------------------------------------------------------


@router.post("/jobs/bulk", response_class=HTMLResponse)
def bulk(
    request: Request,
    user: MemberPage,
    svc: Svc,
    action: FormText = "",
    job_ids: Annotated[list[str] | None, Form()] = None,
    confirmed: FormText = "",
    return_to: FormText = "/jobs",
) -> Response:
    """Retry, cancel or delete the selected jobs, once confirmed; the list says what happened."""
    if action not in ACTIONS:
        raise RequestInvalid(f"There is no bulk action called {action[:40]!r}.")
    back = job_list.safe_return(return_to)
    ids = _selected(job_ids or [])
    if not ids:
        return redirect(back, "Select at least one job first.", "warn")
    if confirmed != "yes":
        return _confirmation(request, action, ids, back)
    before = {j.id: j for j in svc.store.jobs_by_ids(user.org_id, ids)}
    try:
        result = _run(svc, user, action, ids)
    except DatabaseError:
        raise
    except KickflowError as exc:
        return redirect(back, sentence(exc.message), "error")
    kind = "ok" if not result.refused else "warn"
    return redirect(back, sentence(job_list.bulk_outcome(action, before, result)), kind)


def _selected(ids: list[str]) -> list[str]:
    """The ids asked for, each checked, duplicates once (RequestInvalid otherwise)."""
    unique = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if len(unique) > MAX_SELECTED:
        raise RequestInvalid(f"Select at most {MAX_SELECTED} jobs at a time.")
    if any(not JOB_ID.fullmatch(i) for i in unique):
        raise RequestInvalid("That is not a job id.")
    return unique


def _confirmation(request: Request, action: str, ids: list[str], back: str) -> HTMLResponse:
    """The no-JavaScript confirmation step: the question and the same form, confirmed."""
    label, question, danger = ACTIONS[action]
    context = {
        "label": label,
        "question": question.format(n=job_list.jobs_count(len(ids))),
        "danger": danger,
        "action": action,
        "ids": ids,
        "back": back,
    }
    return render(request, "jobs/confirm.html", context)


def _run(svc: Services, user: PageUser, action: str, ids: list[str]) -> BulkResult:
    if action == "retry":
        return svc.store.retry_many(user.org_id, ids)
    if action == "cancel":
        return svc.store.cancel_many(user.org_id, ids)
    return _delete_many(svc, user, ids)


def _delete_many(svc: Services, user: PageUser, ids: list[str]) -> BulkResult:
    """Delete each job and its files, as ``DELETE /api/qc/jobs/{id}`` does."""
    result = BulkResult()
    for job_id in ids:
        try:
            job = svc.store.delete_job(user.org_id, job_id)
        except DatabaseError:
            raise
        except KickflowError as exc:
            result.refused[job_id] = exc.message
            continue
        uploads.remove_job_files(svc.storage, job)
        result.done.append(job)
    return result
