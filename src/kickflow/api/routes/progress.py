"""Progress: ``GET /api/qc/progress`` for polling, ``GET /api/qc/events`` as server-sent events."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from kickflow.api import views
from kickflow.api.auth import Viewer
from kickflow.api.context import Svc
from kickflow.api.schemas import ID_PATTERN
from kickflow.errors import JobNotFound, RequestInvalid
from kickflow.jobs import JobStore

router = APIRouter(prefix="/api/qc", tags=["progress"])
MAX_IDS = 200
POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# Event ids are microseconds of the database time of the change: digits only, and no more of
# them than a microsecond count has for millennia (refuses inf, nan, -1, 1e3, 0x10 …).
EVENT_ID = re.compile(r"[0-9]{1,17}")


def _ids(job_id: str | None, job_ids: str | None) -> list[str]:
    if (job_id is None) == (job_ids is None):
        raise RequestInvalid("give exactly one of jobId or jobIds (comma-separated)")
    ids = [job_id] if job_id else [i.strip() for i in (job_ids or "").split(",") if i.strip()]
    if not ids or len(ids) > MAX_IDS:
        raise RequestInvalid(f"jobIds: between 1 and {MAX_IDS} ids")
    bad = next((i for i in ids if not re.fullmatch(ID_PATTERN, i)), None)
    if bad is not None:
        raise RequestInvalid(f"jobIds: {bad!r} is not a job id")
    return list(dict.fromkeys(ids))


@router.get("/progress", summary="State, phase and progress of one or several jobs")
def progress(
    principal: Viewer,
    svc: Svc,
    job_id: Annotated[str | None, Query(alias="jobId", pattern=ID_PATTERN)] = None,
    job_ids: Annotated[str | None, Query(alias="jobIds", max_length=20_000)] = None,
) -> dict[str, Any]:
    ids = _ids(job_id, job_ids)
    found = svc.store.jobs_by_ids(principal.org_id, ids)
    if job_id is not None:
        if not found:
            raise JobNotFound(f"no job {job_id}")
        return views.progress(found[0])
    missing = [i for i in ids if i not in {j.id for j in found}]
    return {"jobs": [views.progress(j) for j in found], "notFound": missing}


def event_id(epoch: float) -> int:
    """The id of a change at ``epoch`` (database time): whole microseconds, rounded down."""
    return max(0, math.floor(epoch * 1_000_000))


def resume_point(last_event_id: str) -> float:
    """Where a stream resumes after ``Last-Event-ID``: every change from that microsecond on.

    Several jobs can change within one microsecond (one statement updates them all), and the
    client may have seen only some of them; so those are sent again rather than lost.
    """
    if not EVENT_ID.fullmatch(last_event_id):
        raise RequestInvalid(
            "Last-Event-ID: must be a non-negative integer, the id of an event this stream sent"
        )
    return (int(last_event_id) - 1) / 1_000_000


def _sse(event: str, data: dict[str, Any], event_id: int) -> str:
    body = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"id: {event_id}\nevent: {event}\ndata: {body}\n\n"


async def _stream(
    request: Request, store: JobStore, org_id: str, since: float, start_id: int
) -> AsyncIterator[str]:
    yield _sse("ready", {"since": start_id}, start_id)
    last_sent = time.monotonic()
    while not await request.is_disconnected():
        changed = await anyio.to_thread.run_sync(store.changed_since, org_id, since)
        for job in changed:
            since = max(since, job.updated_at)
            yield _sse("job", views.progress(job), event_id(job.updated_at))
        if changed:
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await anyio.sleep(POLL_SECONDS)


@router.get(
    "/events",
    summary="Server-sent events: every state/progress change of your organisation's jobs",
    response_class=StreamingResponse,
)
async def events(request: Request, principal: Viewer, svc: Svc) -> StreamingResponse:
    last = request.headers.get("last-event-id", "").strip()
    if last:
        since, start_id = resume_point(last), int(last)
    else:
        since = await anyio.to_thread.run_sync(svc.store.now)
        start_id = event_id(since)
    return StreamingResponse(
        _stream(request, svc.store, principal.org_id, since, start_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
