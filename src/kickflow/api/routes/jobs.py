"""``/api/qc/jobs``: submit (JSON path, URL or Google Drive source, or streamed multipart
upload), list, show, report, delete.

Admission: members may set priority within ±``KICKFLOW_MEMBER_MAX_PRIORITY``, admins within
±100 (priority only orders the organisation's own jobs); an upload holds at most
``KICKFLOW_MAX_FILES_PER_UPLOAD`` files; the job store refuses jobs past the organisation's
``KICKFLOW_ORG_MAX_QUEUED``, and an upload is checked against it before a byte is stored.

Subtitle files delivered with the media (``subtitles``: paths in the JSON body, file parts of
that name in an upload; at most ``KICKFLOW_MAX_SUBTITLE_FILES`` per job) and a source timecode
(``timecodeStart``) are stored with the job (:class:`~kickflow.jobs.JobInputs`). Each subtitle
file is checked before any job is made; a bad one is a 422 naming it and nothing is kept. In an
upload with several media files each subtitle file goes with the media file its name starts
with (``EP01.mov`` ← ``EP01.en.srt``; :mod:`kickflow.jobs.sidecars`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, ValidationError

from kickflow.api import uploads, views
from kickflow.api.auth import Member, Viewer
from kickflow.api.context import Services, Svc
from kickflow.api.schemas import (
    ID_PATTERN,
    TEXT_PATTERN,
    DriveLinkSource,
    PathSource,
    SubmitJob,
    SubmitOptions,
    SubtitlePath,
)
from kickflow.api.tokens import Principal
from kickflow.config import Settings
from kickflow.errors import (
    InputError,
    NotAuthenticated,
    PriorityNotAllowed,
    ReportNotReady,
    SubtitleRefused,
)
from kickflow.jobs import JobStore, sidecars, sources
from kickflow.jobs.listing import MAX_TEXT
from kickflow.jobs.models import Job, JobInputs, Sidecar
from kickflow.profiles import catalog
from kickflow.storage import StoredUpload
from kickflow.web.session import SESSION_PRINCIPAL, page_user

router = APIRouter(prefix="/api/qc", tags=["jobs"])
CURSOR_PATTERN = r"^[A-Za-z0-9_=-]+$"
JobIdPath = Annotated[str, Path(pattern=ID_PATTERN)]
ADMIN_MAX_PRIORITY = 100  # the schema's own bound
TEXT_HELP = "Case-insensitive substring of the file name, taken literally (no wildcards)"
CREATED_HELP = (
    "ISO 8601 time with a zone (e.g. 2026-05-01T00:00:00Z); createdFrom inclusive, createdTo "
    "exclusive"
)

SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SubmitJob.model_json_schema(by_alias=True)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "profile": {"type": "string"},
                        "priority": {
                            "type": "integer",
                            "minimum": -ADMIN_MAX_PRIORITY,
                            "maximum": ADMIN_MAX_PRIORITY,
                        },
                        "project": {"type": "string"},
                        "idempotencyKey": {"type": "string"},
                        "timecodeStart": {"type": "string", "example": "10:00:00:00"},
                        "subtitles": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Subtitle files (SRT, WebVTT, TTML, ASS/SSA). With "
                            "one media file all go with it; with several, each goes with the "
                            "media file its name starts with (EP01.mov takes EP01.en.srt).",
                        },
                    },
                }
            },
        },
    }
}


def check_profile(store: JobStore, org_id: str, name: str) -> str | None:
    """A built-in profile or one of the caller's organisation's (never a path on the server),
    else ProfileNotFound; the custom profile's TOML that the job will carry, or None."""
    return catalog.resolve_for_job(store, org_id, name)[1]


def check_priority(principal: Principal, priority: int, settings: Settings) -> None:
    """PriorityNotAllowed unless the caller's role may set ``priority``."""
    bound = ADMIN_MAX_PRIORITY if principal.may("admin") else settings.member_max_priority
    if abs(priority) > bound:
        raise PriorityNotAllowed(
            f"priority: {priority} is outside the range your role ({principal.role}) may set, "
            f"-{bound} to {bound}; priority orders your organisation's own jobs only"
        )


def _parsed(model: type[SubmitOptions], data: bytes | dict[str, Any]) -> SubmitOptions:
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _enqueue(
    svc: Services,
    org_id: str,
    opts: SubmitOptions,
    kind: str,
    ref: str,
    name: str,
    size: int | None,
    key: str | None,
    *,
    profile_source: str | None,
    inputs: JobInputs,
) -> Job:
    return svc.store.enqueue(
        org_id,
        kind,
        ref,
        file_name=name,
        profile=opts.profile,
        profile_source=profile_source,
        project=opts.project,
        priority=opts.priority,
        idempotency_key=key,
        file_size=size,
        inputs=inputs,
    )


def refused_field(field: str, exc: InputError) -> RequestValidationError:
    """A refused input (a subtitle file) as the 422 the API gives every bad field: its
    sentence names the file, never a server path."""
    error = {"loc": ("body", field), "msg": exc.message, "type": exc.code, "input": None}
    return RequestValidationError([error])


def path_subtitles(items: Sequence[SubtitlePath], settings: Settings) -> tuple[Sidecar, ...]:
    """The JSON body's subtitle files, each checked (allowed roots, size, content) from a
    scratch copy; a 422 naming the first bad one."""
    try:
        sidecars.check_count(len(items), settings)
        with tempfile.TemporaryDirectory(prefix="kickflow-subtitles-") as scratch:
            return tuple(
                sidecars.inspect_path(item.path, settings, FilePath(scratch) / str(index))
                for index, item in enumerate(items)
            )
    except InputError as exc:
        raise refused_field("subtitles", exc) from None


def submit_path(svc: Services, principal: Principal, body: bytes) -> Job:
    """Queue a job for a file under the allowed roots (the JSON body of ``POST /jobs``)."""
    req = _parsed(SubmitJob, body)
    assert isinstance(req, SubmitJob)
    profile_source = check_profile(svc.store, principal.org_id, req.profile)
    check_priority(principal, req.priority, svc.settings)
    kind = req.source.type
    ref = req.source.path if isinstance(req.source, PathSource) else req.source.url
    info = sources.inspect(kind, ref, svc.settings)
    inputs = JobInputs(path_subtitles(req.subtitles, svc.settings), req.timecode_start)
    return _enqueue(
        svc,
        principal.org_id,
        req,
        kind,
        ref,
        info.file_name,
        info.size,
        req.idempotency_key,
        profile_source=profile_source,
        inputs=inputs,
    )


def submit_drive(
    svc: Services, principal: Principal, req: SubmitJob, user_id: str | None
) -> list[Job]:
    """Queue the jobs of a Google Drive link, read with the caller's connection
    (:mod:`kickflow.integrations.google.drive_jobs`); every check before the first job."""
    from kickflow.integrations.google import drive_jobs, drive_source
    from kickflow.integrations.google.tokens import GoogleTokens

    assert isinstance(req.source, DriveLinkSource)
    if req.subtitles:
        raise refused_field(
            "subtitles",
            SubtitleRefused("a Drive job's subtitle files come from its Drive folder, by name"),
        )
    profile_source = check_profile(svc.store, principal.org_id, req.profile)
    check_priority(principal, req.priority, svc.settings)
    tokens = GoogleTokens(svc.store, svc.settings)
    planned = drive_jobs.plan_link(tokens, svc.settings, principal.org_id, user_id, req.source.url)
    return [
        _enqueue(
            svc,
            principal.org_id,
            req,
            drive_source.KIND,
            one.ref,
            one.file_name,
            one.size,
            _drive_key(req.idempotency_key, one.file_id),
            profile_source=profile_source,
            inputs=JobInputs(one.subtitles, req.timecode_start),
        )
        for one in planned
    ]


def _drive_key(key: str | None, file_id: str) -> str | None:
    """The idempotency key per Drive file: a folder submitted again with the same key gives
    a file added since a job of its own, and the others their earlier jobs."""
    return f"{key}#{file_id}" if key else None


def submit_json(
    svc: Services, principal: Principal, body: bytes, user_id: str | None = None
) -> list[Job]:
    """The JSON body of ``POST /jobs``: a Drive link's jobs, or one path or URL job."""
    req = _parsed(SubmitJob, body)
    assert isinstance(req, SubmitJob)
    if isinstance(req.source, DriveLinkSource):
        return submit_drive(svc, principal, req, user_id)
    return [submit_path(svc, principal, body)]


def caller_user_id(request: Request, principal: Principal) -> str | None:
    """The signed-in user behind a dashboard session's call; None for an API token."""
    if not principal.token_id.startswith(SESSION_PRINCIPAL):
        return None
    user = page_user(request)
    if user is None or SESSION_PRINCIPAL + user.session_id != principal.token_id:
        raise NotAuthenticated("your dashboard session has ended: sign in again")
    return user.user_id


def _upload_key(opts: SubmitOptions, index: int, count: int) -> str | None:
    key = opts.idempotency_key
    return f"{key}#{index}" if key and count > 1 else key


def _enqueue_uploads(
    svc: Services,
    org_id: str,
    opts: SubmitOptions,
    stored: list[StoredUpload],
    profile_source: str | None,
    subtitles: Sequence[tuple[StoredUpload, ...]],
) -> list[Job]:
    """One job per stored file, all in one transaction (all queued, or none); each carries
    ``profile_source`` (from :func:`check_profile`), its own subtitle files and the
    timecode."""
    refs = [item.ref for item in stored]
    inputs = [
        JobInputs(tuple(Sidecar("upload", s.ref, s.name, s.size) for s in own), opts.timecode_start)
        for own in subtitles
    ]
    items = [
        svc.store.new_job(
            org_id,
            "upload",
            ref,
            file_name=item.name,
            profile=opts.profile,
            profile_source=profile_source,
            project=opts.project,
            priority=opts.priority,
            idempotency_key=_upload_key(opts, index, len(stored)),
            file_size=item.size,
            inputs=inputs[index],
        )
        for index, (item, ref) in enumerate(zip(stored, refs, strict=True))
    ]
    jobs = svc.store.enqueue_many(items)
    for job, item, ref, own in zip(jobs, stored, refs, subtitles, strict=True):
        if job.source_ref != ref:  # an earlier submission with the same key won
            for unused in (item, *own):
                uploads.remove_upload(svc.storage, unused.ref)
    return jobs


def _paired(form: uploads.UploadForm, settings: Settings) -> list[list[int]]:
    try:
        return sidecars.pair(form.file_names, form.subtitle_names, settings)
    except InputError as exc:
        raise refused_field("subtitles", exc) from None


async def submit_upload(
    svc: Services,
    principal: Principal,
    request: Request,
    *,
    before_files: uploads.FieldsCheck | None = None,
    options: Callable[[dict[str, str]], dict[str, str]] = dict,
) -> list[Job]:
    """Queue one job per file of a streamed multipart upload (all, or none and nothing kept).

    The Submit page's form (``kickflow.web.pages.submit``) comes this way too: its
    ``before_files`` checks the CSRF token before a byte is stored, ``options`` turns the
    form's fields into the API's (blank fields left out)."""
    org_id = principal.org_id
    await run_in_threadpool(svc.store.ensure_queue_room, org_id)  # before a byte is stored
    async with (
        uploads.batch(svc.storage, org_id, svc.settings.max_files_per_upload) as batch,
        uploads.batch(svc.storage, org_id, None) as subtitle_batch,
    ):
        intake = uploads.SubtitleIntake(subtitle_batch, svc.settings)
        try:
            form = await uploads.receive(request, batch, before_files, intake)
        except SubtitleRefused as exc:  # a subtitle file refused as it arrived
            raise refused_field("subtitles", exc) from None
        finally:
            await run_in_threadpool(intake.close)
        opts = _parsed(SubmitOptions, options(dict(form.fields)))
        paired = _paired(form, svc.settings)
        source = await run_in_threadpool(check_profile, svc.store, org_id, opts.profile)
        check_priority(principal, opts.priority, svc.settings)
        await run_in_threadpool(svc.store.ensure_queue_room, org_id, len(form.file_names))
        stored = await run_in_threadpool(batch.commit)
        kept = await run_in_threadpool(subtitle_batch.commit)
        own = [tuple(kept[i] for i in indices) for indices in paired]
        return await run_in_threadpool(_enqueue_uploads, svc, org_id, opts, stored, source, own)


def _created(job: Job) -> dict[str, Any]:
    return {**views.job_summary(job), "source": views.source(job), "inputs": views.inputs(job)}


@router.post(
    "/jobs",
    status_code=201,
    summary="Submit a job: JSON path source, or multipart upload (field `file`, repeatable)",
    openapi_extra=SUBMIT_BODY,
)
async def submit(request: Request, principal: Member, svc: Svc) -> JSONResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        jobs = await submit_upload(svc, principal, request)
        body = {"jobs": [_created(j) for j in jobs]} if len(jobs) > 1 else _created(jobs[0])
        return JSONResponse(body, status_code=201)
    raw = await request.body()
    user_id = caller_user_id(request, principal)
    made = await run_in_threadpool(submit_json, svc, principal, raw, user_id)
    body = {"jobs": [_created(j) for j in made]} if len(made) > 1 else _created(made[0])
    return JSONResponse(body, status_code=201)


@router.get("/jobs", summary="List jobs, newest first, with cursor pagination")
def list_jobs(
    principal: Viewer,
    svc: Svc,
    state: Literal["queued", "running", "completed", "failed", "cancelled", "paused"] | None = None,
    verdict: Literal["passed", "needs_review", "failed"] | None = None,
    project: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
    profile: Annotated[str | None, Query(max_length=100, pattern=TEXT_PATTERN)] = None,
    text: Annotated[
        str | None,
        Query(max_length=MAX_TEXT, pattern=TEXT_PATTERN, description=TEXT_HELP),
    ] = None,
    created_from: Annotated[
        AwareDatetime | None, Query(alias="createdFrom", description=CREATED_HELP)
    ] = None,
    created_to: Annotated[
        AwareDatetime | None, Query(alias="createdTo", description=CREATED_HELP)
    ] = None,
    cursor: Annotated[str | None, Query(max_length=500, pattern=CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = svc.store.list_jobs(
        principal.org_id,
        state=state,
        verdict=verdict,
        project=project,
        profile=profile,
        text=text,
        created_from=created_from.timestamp() if created_from else None,
        created_to=created_to.timestamp() if created_to else None,
        cursor=cursor,
        limit=limit,
    )
    return {"jobs": [views.job_summary(j) for j in page.jobs], "nextCursor": page.next_cursor}


@router.get("/jobs/{job_id}", summary="One job with its history")
def show(job_id: JobIdPath, principal: Viewer, svc: Svc) -> dict[str, Any]:
    job = svc.store.get(principal.org_id, job_id)
    return views.job_detail(job, svc.store.events(job.id, principal.org_id))


@router.get("/jobs/{job_id}/report", summary="The QC report (JSON, or ?format=html|csv|pdf)")
def report(
    job_id: JobIdPath,
    principal: Viewer,
    svc: Svc,
    format: Literal["json", "html", "csv", "pdf"] = "json",
) -> Response:
    job = svc.store.get(principal.org_id, job_id)
    if job.report is None:
        raise ReportNotReady(f"job {job.id} is {job.state.value}: no report yet")
    if format == "json":
        return JSONResponse(job.report)
    if format == "pdf":  # a plain route: FastAPI renders it in its threadpool
        return _pdf_report(svc, job, job.report)
    from kickflow import report as rendering

    if format == "html":
        return Response(rendering.render_html(job.report), media_type="text/html; charset=utf-8")
    headers = {"Content-Disposition": f'attachment; filename="{job.id}.csv"'}
    return Response(rendering.render_csv(job.report), media_type="text/csv", headers=headers)


def _pdf_report(svc: Services, job: Job, data: dict[str, Any]) -> Response:
    """The report as an A4 PDF with the job's own thumbnails, as an attachment."""
    from kickflow import report_pdf

    pdf = report_pdf.render_pdf(data, report_pdf.job_artifacts(svc.storage, job.org_id, job.id))
    disposition = report_pdf.content_disposition(job.file_name, job.id)
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})


@router.delete("/jobs/{job_id}", summary="Delete a job (cancelled first if active) and its upload")
def delete(job_id: JobIdPath, principal: Member, svc: Svc) -> dict[str, Any]:
    job = svc.store.delete_job(principal.org_id, job_id)
    uploads.remove_job_files(svc.storage, job)
    return {"id": job.id, "deleted": True, "state": job.state.value}
