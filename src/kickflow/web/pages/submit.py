"""The Submit page (members): ``GET /submit`` — drop or choose files, the profile, the project,
the priority within the role's range, a source timecode, subtitle files delivered with the
media (paired with the media files by name: :mod:`kickflow.jobs.sidecars`), and a local path
where the service allows path sources.

``submit.js`` uploads each file with its own request to ``POST /api/qc/jobs`` (so each has its
own progress bar) and follows the jobs on the page's event stream until their verdicts. Without
JavaScript the same form posts to ``POST /submit`` (files, streamed) or ``POST /submit/path``
(the local path), which create the jobs with the API's own functions and go on to the Jobs
page. Bad input: the form again, as typed, with one sentence and the error's status.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response

from kickflow.api import uploads
from kickflow.api.context import Services, Svc
from kickflow.api.errors import describe_validation, status_for
from kickflow.api.routes.jobs import ADMIN_MAX_PRIORITY, submit_json, submit_path, submit_upload
from kickflow.errors import (
    CsrfRefused,
    DatabaseError,
    KickflowError,
    NotAuthenticated,
    PermissionDenied,
    RequestInvalid,
)
from kickflow.jobs import Job
from kickflow.profiles import catalog
from kickflow.storage import upload_limit_bytes
from kickflow.web.session import (
    CROSS_SITE,
    CSRF_FIELD,
    MaybePageUser,
    MemberPage,
    PageUser,
    same_site,
    token_matches,
)
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]
MULTIPART = "multipart/form-data"
TYPED_FIELDS = ("profile", "project", "priority", "path", "timecode_start", "drive_url")
SUBTITLE_ACCEPT = ".srt,.vtt,.ttml,.dfxp,.xml,.ass,.ssa"
# The API's field names as the form labels them, for its one-sentence refusals.
FIELD_LABELS = {"timecode_start": "Source timecode", "subtitles": "Subtitle files"}
NO_FILE = "Choose at least one file to upload (or give a local path)."


@dataclass(frozen=True)
class Typed:
    """What the user typed in the form, shown again after a refusal."""

    profile: str = catalog.DEFAULT_PROFILE_NAME
    project: str = ""
    priority: str = ""
    path: str = ""
    timecode_start: str = ""
    drive_url: str = ""

    @classmethod
    def of(cls, fields: dict[str, str]) -> Typed:
        return cls(**{k: fields[k][:300] for k in TYPED_FIELDS if k in fields})


def api_options(fields: dict[str, str]) -> dict[str, str]:
    """The API's submit options from the form's fields: blank ones left out (the API's
    defaults apply), the CSRF token and the path field dropped; anything else stays, and the
    API refuses it as it would from any client."""
    dropped = {CSRF_FIELD, "path", "drive_url"}
    return {k: v.strip() for k, v in fields.items() if k not in dropped and v.strip()}


def priority_bound(user: PageUser, svc: Services) -> int:
    """The largest priority (either sign) the user's role may set, as the API checks it."""
    return ADMIN_MAX_PRIORITY if user.may("admin") else svc.settings.member_max_priority


def drive_state(svc: Services, user: PageUser) -> dict[str, bool]:
    """Whether the Drive field is offered (Google set up on the service) and whether this
    user has a connection to read with (else the page says to connect in Settings)."""
    configured = bool(svc.settings.google_client_id and svc.settings.google_client_secret)
    connected = configured and svc.store.google_connection(user.org_id, user.user_id) is not None
    return {"configured": configured, "connected": connected}


def human_size(size: int) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1 ("10 GB")."""
    value, unit = float(size), "bytes"
    for next_unit in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    return f"{value:.0f} {unit}" if unit == "bytes" or value >= 10 else f"{value:.1f} {unit}"


@router.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request, user: MemberPage, svc: Svc) -> Response:
    """The empty form."""
    return _page(request, svc, user, Typed(), None)


def _page(
    request: Request,
    svc: Services,
    user: PageUser,
    typed: Typed,
    error: str | None,
    status: int = 200,
) -> HTMLResponse:
    limit = upload_limit_bytes(svc.settings)
    context: dict[str, Any] = {
        "typed": asdict(typed),
        "profiles": catalog.available_profiles(svc.store, user.org_id),
        "bound": priority_bound(user, svc),
        "allow_path": bool(svc.settings.allowed_roots.strip()),
        "upload_limit": limit,
        "upload_limit_text": human_size(limit),
        "max_files": svc.settings.max_files_per_upload,
        "max_subtitle_files": svc.settings.max_subtitle_files,
        "subtitle_limit_text": f"{svc.settings.max_subtitle_mb:g} MB",
        "subtitle_accept": SUBTITLE_ACCEPT,
        "drive": drive_state(svc, user),
        "error": error,
    }
    return render(request, "submit/submit.html", context, status_code=status)


# --- without JavaScript --------------------------------------------------------------------------


def _member(user: PageUser | None) -> PageUser:
    if user is None:
        raise NotAuthenticated("Sign in to submit files.")
    if not user.may("member"):
        raise PermissionDenied(
            f"Submitting needs the member role; yours in {user.org_name} is {user.role}."
        )
    return user


@router.post("/submit", response_class=HTMLResponse)
async def submit_files(request: Request, user: MaybePageUser, svc: Svc) -> Response:
    """The form's files, streamed into jobs as ``POST /api/qc/jobs`` does. The CSRF token is
    the form's first field and is checked before a byte is stored (a page dependency would
    read the whole body first)."""
    member = _member(user)
    if not same_site(request):
        raise CsrfRefused(CROSS_SITE)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MULTIPART:
        raise RequestInvalid("Send the form from the Submit page.")
    typed: dict[str, str] = {}

    def check(fields: dict[str, str]) -> None:
        typed.update(fields)
        if not token_matches(fields.get(CSRF_FIELD, ""), member.csrf_token):
            raise CsrfRefused()

    def options(fields: dict[str, str]) -> dict[str, str]:
        check(fields)
        return api_options(fields)

    try:
        jobs = await submit_upload(
            svc, member.principal, request, before_files=check, options=options
        )
    except (CsrfRefused, DatabaseError):
        raise
    except (KickflowError, RequestValidationError) as exc:
        return await run_in_threadpool(_refused, request, svc, member, Typed.of(typed), exc)
    return redirect("/jobs", _queued(jobs))


@router.post("/submit/path", response_class=HTMLResponse)
def submit_local_path(
    request: Request,
    user: MemberPage,
    svc: Svc,
    path: FormText = "",
    profile: FormText = "",
    project: FormText = "",
    priority: FormText = "",
    timecode_start: FormText = "",
) -> Response:
    """The form's local path, as a JSON ``POST /api/qc/jobs`` with a path source."""
    typed = Typed(profile, project, priority, path, timecode_start)
    if not path.strip():
        return _page(request, svc, user, typed, "Give the path of a file to check.", 400)
    fields = {
        "profile": profile,
        "project": project,
        "priority": priority,
        "timecode_start": timecode_start,
    }
    body = {**api_options(fields), "source": {"type": "path", "path": path.strip()}}
    try:
        job = submit_path(svc, user.principal, json.dumps(body).encode())
    except DatabaseError:
        raise
    except (KickflowError, RequestValidationError) as exc:
        return _refused(request, svc, user, typed, exc)
    return redirect("/jobs", _queued([job]))


@router.post("/submit/drive", response_class=HTMLResponse)
def submit_drive_link(
    request: Request,
    user: MemberPage,
    svc: Svc,
    drive_url: FormText = "",
    profile: FormText = "",
    project: FormText = "",
    priority: FormText = "",
    timecode_start: FormText = "",
) -> Response:
    """The form's Google Drive link, as a JSON ``POST /api/qc/jobs`` with a drive source read
    with the user's own connection (a folder: one job per media file)."""
    typed = Typed(profile, project, priority, "", timecode_start, drive_url)
    if not drive_url.strip():
        message = "Paste the link of a Google Drive file or folder."
        return _page(request, svc, user, typed, message, 400)
    fields = {"profile": profile, "project": project, "priority": priority}
    fields["timecode_start"] = timecode_start
    body = {**api_options(fields), "source": {"type": "drive", "url": drive_url.strip()}}
    try:
        jobs = submit_json(svc, user.principal, json.dumps(body).encode(), user.user_id)
    except DatabaseError:
        raise
    except (KickflowError, RequestValidationError) as exc:
        return _refused(request, svc, user, typed, exc)
    return redirect("/jobs", _queued(jobs))


def _refused(
    request: Request,
    svc: Services,
    user: PageUser,
    typed: Typed,
    exc: KickflowError | RequestValidationError,
) -> HTMLResponse:
    """The form again, as typed, with the one sentence and the API's status for it."""
    if isinstance(exc, RequestValidationError):
        return _page(request, svc, user, typed, _validation_sentence(exc), 422)
    message = NO_FILE if exc.message == uploads.NO_FILES else exc.message
    return _page(request, svc, user, typed, sentence(message), status_for(exc))


def _validation_sentence(exc: RequestValidationError) -> str:
    """The API's validation message, with the form's labels for the fields it names."""
    labelled = [
        {**err, "loc": tuple(FIELD_LABELS.get(str(part), part) for part in err.get("loc", ()))}
        for err in exc.errors()
    ]
    return sentence(describe_validation(labelled)[1])


def _queued(jobs: list[Job]) -> str:
    names = ", ".join(j.file_name for j in jobs[:5]) + (" …" if len(jobs) > 5 else "")
    what = "1 file" if len(jobs) == 1 else f"{len(jobs)} files"
    return f"{what} queued for checking: {names}."
