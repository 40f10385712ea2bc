"""Progress: ``GET /api/qc/progress`` for polling, ``GET /api/qc/events`` as server-sent events.

The event streams of an organisation share one poll of the store (:mod:`kickflow.api.changes`);
each event's data is the job's summary (as in ``GET /api/qc/jobs``), its id the microsecond of
the change, so a reconnecting client resumes with ``Last-Event-ID``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from kickflow.api import views
from kickflow.api.auth import Viewer
from kickflow.api.changes import ChangeFeed, event_id, sse
from kickflow.api.context import Svc
from kickflow.api.schemas import ID_PATTERN
from kickflow.errors import JobNotFound, RequestInvalid

router = APIRouter(prefix="/api/qc", tags=["progress"])
MAX_IDS = 200
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


async def _stream(
    request: Request, feed: ChangeFeed, org_id: str, since: float, start: float, start_id: int
) -> AsyncIterator[str]:
    """The stream of one client: its backlog, then the organisation's shared fan-out."""
    sub = feed.subscribe(org_id, start)
    try:
        yield sse("ready", {"since": start_id}, start_id)
        for change in await feed.backlog(sub, since):
            yield change.text
        while not sub.dropped and not await request.is_disconnected():
            changes = await sub.next_changes(KEEPALIVE_SECONDS)
            for change in changes:
                yield change.text
            if not changes and not sub.dropped:
                yield ": keep-alive\n\n"  # nothing for a while (or only repeats)
    finally:
        feed.unsubscribe(sub)


@router.get(
    "/events",
    summary="Server-sent events: every state/progress change of your organisation's jobs",
    response_class=StreamingResponse,
)
async def events(request: Request, principal: Viewer, svc: Svc) -> StreamingResponse:
    last = request.headers.get("last-event-id", "").strip()
    resume = resume_point(last) if last else None
    start = await anyio.to_thread.run_sync(svc.store.now)
    since, start_id = (start, event_id(start)) if resume is None else (resume, int(last))
    return StreamingResponse(
        _stream(request, svc.changes, principal.org_id, since, start, start_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
