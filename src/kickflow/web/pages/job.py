"""The job page: ``/jobs/{id}`` — verdict, measurements, findings with their pictures and
level strips, the plots, the history, what to do next, the Retry and Cancel buttons and
"Export to Google Sheets" (when the job's project has an export) — and
``/jobs/{id}/artifacts/{name}``, the job's pictures for the signed-in browser.

Everything is scoped to the session's organisation: another organisation's job is the 404 page.
The buttons are forms (they work without JavaScript) and their routes take ``MemberPage``: a
viewer gets no buttons and a forged POST is refused (403), as is one without the CSRF token.
``job.js`` follows the organisation's event stream while the job is active and redraws the
page's parts when its state changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from kickflow.api.context import Svc
from kickflow.api.errors import status_for
from kickflow.api.routes.artifacts import artifact_response
from kickflow.api.schemas import ID_PATTERN
from kickflow.errors import IllegalTransition, KickflowError
from kickflow.integrations.google.sheets_export import SheetsExporter
from kickflow.jobs import Job, JobState
from kickflow.web import job_view
from kickflow.web.session import MemberPage, PageUser, ViewerPage
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)
JobId = Annotated[str, Path(pattern=ID_PATTERN)]


def _page(
    request: Request,
    svc: Svc,
    user: PageUser,
    job: Job,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    events = svc.store.events(job.id, user.org_id)
    context = job_view.page_context(job, events, user.may("member"), svc.settings)
    context["can_export_sheets"] = _can_export_sheets(svc, user, job)
    return render(request, "job/job.html", context | {"error": error}, status_code=status)


def _can_export_sheets(svc: Svc, user: PageUser, job: Job) -> bool:
    """Offer "Export to Google Sheets" to a member, for a finished result whose project has an
    export set up."""
    if not (svc.settings.google_sheets_export and user.may("member") and job.project):
        return False
    if job.state is not JobState.COMPLETED:
        return False
    return svc.store.sheet_export(user.org_id, job.project) is not None


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: JobId, user: ViewerPage, svc: Svc) -> Response:
    """The job and, once it has one, its report."""
    return _page(request, svc, user, svc.store.get(user.org_id, job_id))


@router.get("/jobs/{job_id}/artifacts/{name}")
def job_artifact(job_id: JobId, name: str, user: ViewerPage, svc: Svc) -> Response:
    """A picture the job's report lists (the same answer as the API's artefact route)."""
    return artifact_response(svc, user.org_id, job_id, name)


@router.post("/jobs/{job_id}/retry")
def retry(request: Request, job_id: JobId, user: MemberPage, svc: Svc) -> Response:
    """Run the job again from the start (failed, cancelled, or completed: reprocess)."""
    job = svc.store.get(user.org_id, job_id)
    if job.state not in job_view.RETRYABLE:
        message = f"This job is {job.state.value}: only a finished job can run again."
        return _page(request, svc, user, job, status=409, error=message)
    try:
        svc.store.retry(user.org_id, job.id, f"re-queued from the dashboard by {user.email}")
    except IllegalTransition as exc:  # it changed state since it was read
        return _page(request, svc, user, job, status=409, error=sentence(exc.message))
    return redirect(f"/jobs/{job.id}", "Re-queued: the job runs again from the start.")


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: JobId, user: MemberPage, svc: Svc) -> Response:
    """Cancel a queued or paused job; ask a running one to stop."""
    job = svc.store.get(user.org_id, job_id)
    if job.state not in job_view.CANCELLABLE:
        message = f"This job is {job.state.value} already: there is nothing to cancel."
        return _page(request, svc, user, job, status=409, error=message)
    try:
        reason = f"cancelled from the dashboard by {user.email}"
        done = svc.store.cancel(user.org_id, job.id, reason)
    except IllegalTransition as exc:
        return _page(request, svc, user, job, status=409, error=sentence(exc.message))
    if done.state is JobState.RUNNING:
        return redirect(f"/jobs/{job.id}", "Cancel requested: the worker stops within seconds.")
    return redirect(f"/jobs/{job.id}", "Cancelled.")


@router.post("/jobs/{job_id}/export/sheets")
def export_sheets(request: Request, job_id: JobId, user: MemberPage, svc: Svc) -> Response:
    """Write the job's row to its project's Google Sheet now."""
    job = svc.store.get(user.org_id, job_id)
    try:
        result = SheetsExporter(svc.store, svc.settings).export_job(user.org_id, job.id)
    except KickflowError as exc:
        return _page(request, svc, user, job, status=status_for(exc), error=sentence(exc.message))
    done = "added to" if result.added else "updated in"
    return redirect(
        f"/jobs/{job.id}", f'Exported to Google Sheets: the row was {done} the tab "{result.tab}".'
    )
