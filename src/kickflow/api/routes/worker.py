"""The worker protocol (``/api/worker/v1``): what ``kickflow worker --server`` and the embedded
slots of ``kickflow serve`` call instead of opening the database. Only tokens with the
``worker`` role may call it, and nothing else. Wire format: :mod:`kickflow.worker.protocol`.

Fencing stays in the database: each fenced call goes to the same store method a direct worker
uses. A call repeated after a lost reply (the job already carries this attempt's outcome from
this worker) is answered as accepted, without a second write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from kickflow import artifacts
from kickflow.api.auth import WorkerPrincipal
from kickflow.api.context import Services, Svc
from kickflow.errors import (
    LeaseLost,
    NotFound,
    ProtocolMismatch,
    RequestInvalid,
    StoredObjectMissing,
)
from kickflow.integrations.google import drive_source
from kickflow.jobs import Job, JobState, Lease
from kickflow.worker import protocol as wire

# The history entry each fenced call leaves: a repeated call finds its own outcome there.
OUTCOMES: dict[str, set[str]] = {
    "complete": {"completed"},
    "fail": {"failed", "retry_scheduled"},
    "release": {"released"},
    "acknowledge-cancel": {"cancelled"},
    "acknowledge-pause": {"paused"},
}
RANGE_PREFIX = "bytes="


async def protocol_version(
    version: Annotated[str | None, Header(alias=wire.VERSION_HEADER)] = None,
) -> None:
    """Every call states the protocol version it speaks."""
    if version != str(wire.VERSION):
        sent = "none" if version is None else repr(version)[:20]
        raise ProtocolMismatch(
            f"this service speaks worker protocol {wire.VERSION} (header {wire.VERSION_HEADER}), "
            f"the worker sent {sent}: run a kickflow worker of the same release as the service"
        )


router = APIRouter(
    prefix=wire.PREFIX, tags=["worker protocol"], dependencies=[Depends(protocol_version)]
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WireLease(Body):
    job_id: str = Field(max_length=64)
    token: str = Field(max_length=128)
    attempt: int = Field(ge=1)
    worker_id: str = Field(max_length=200)

    def lease(self) -> Lease:
        return Lease(self.job_id, self.token, self.attempt, self.worker_id)


class ClaimRequest(Body):
    worker_id: str = Field(min_length=1, max_length=200)
    limit: int = Field(1, ge=1, le=100)


class RegisterRequest(Body):
    worker_id: str = Field(min_length=1, max_length=200)
    hostname: str = Field(min_length=1, max_length=255)
    pid: int = Field(ge=0)
    concurrency: int = Field(ge=1, le=1024)


class WorkerBeat(Body):
    worker_id: str = Field(min_length=1, max_length=200)
    state: str = Field("running", pattern="^(running|stopping|stopped)$")


class LeaseOnly(Body):
    lease: WireLease


class InputRequest(LeaseOnly):
    subtitle: int | None = Field(None, ge=0, description="a subtitle file of the job's inputs")
    force_refresh: bool = Field(False, description="a Drive job: Google refused the last token")


class HeartbeatRequest(Body):
    lease: WireLease
    progress: float = Field(ge=0, le=100)
    phase: str = Field(max_length=40)


class CompleteRequest(Body):
    lease: WireLease
    verdict: str = Field(pattern="^(passed|needs_review|failed)$")
    report: dict[str, Any]


class CompleteManyRequest(Body):
    results: list[CompleteRequest] = Field(max_length=100)


class FailRequest(Body):
    lease: WireLease
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=4000)
    permanent: bool


class MessageRequest(Body):
    lease: WireLease
    message: str = Field("", max_length=4000)


class ArtifactRequest(Body):
    lease: WireLease
    data: str = Field(max_length=wire.MAX_ARTIFACT_CHARS)


# --- registry ---------------------------------------------------------------------------------


@router.post("/workers/register", summary="A worker process starts")
def register(req: RegisterRequest, _: WorkerPrincipal, svc: Svc) -> dict[str, Any]:
    svc.store.register_worker(req.worker_id, req.hostname, req.pid, req.concurrency)
    return {"registered": req.worker_id}


@router.post("/workers/heartbeat", summary="A worker process is alive")
def worker_heartbeat(req: WorkerBeat, _: WorkerPrincipal, svc: Svc) -> dict[str, Any]:
    svc.store.worker_heartbeat(req.worker_id, req.state)
    return {"ok": True}


@router.post("/workers/live", summary="Workers that heart-beat recently")
def live(_: WorkerPrincipal, svc: Svc) -> dict[str, Any]:
    return {"workers": [wire.worker_to_wire(w) for w in svc.store.live_workers()]}


# --- claim and the fenced calls ---------------------------------------------------------------


def _json(data: dict[str, Any]) -> Response:
    """The reply as JSON, as is: the per-job calls skip FastAPI's validation and encoding of
    a returned dict (the wire values are plain JSON types already)."""
    return JSONResponse(data)


@router.post("/claim", summary="Claim up to `limit` due jobs")
def claim(req: ClaimRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    claimed = svc.store.claim(req.worker_id, req.limit)
    return _json({"claimed": [wire.claimed_to_wire(c) for c in claimed]})


@router.post("/leases/heartbeat", summary="Extend the lease, report progress")
def heartbeat(req: HeartbeatRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    reply = svc.store.heartbeat(req.lease.lease(), req.progress, req.phase)
    return _json(wire.reply_to_wire(reply))


def _live(job: Job, lease: Lease) -> bool:
    """Whether ``lease`` is still the job's live lease (then the call cannot be a repeat)."""
    return job.state is JobState.RUNNING and job.lease_token == lease.token


def _replayed(svc: Services, lease: Lease, call: str) -> Job | None:
    """The job, if this attempt of this worker already left ``call``'s outcome and the lease
    is no longer live (the worker is repeating a call whose reply it lost)."""
    try:
        job = svc.store.get(None, lease.job_id)
    except Exception:
        return None
    return _replay_of(svc, job, lease, call)


def _replay_of(svc: Services, job: Job, lease: Lease, call: str) -> Job | None:
    """:func:`_replayed` for a job already read: its history is read only when the lease is
    no longer live (rare), so a fresh call costs one read of the job, or none in a batch."""
    if _live(job, lease):
        return None
    kinds = OUTCOMES[call]
    for event in reversed(svc.store.events(lease.job_id)):
        if event.kind == "claimed" and event.attempt == lease.attempt:
            break
        if (
            event.kind in kinds
            and event.attempt == lease.attempt
            and event.worker_id == lease.worker_id
        ):
            return job
    return None


def _fenced(svc: Services, lease: Lease, call: str, write: Callable[[], Job]) -> Response:
    replay = _replayed(svc, lease, call)
    if replay is not None:
        return _json({"job": wire.job_to_wire(replay), "replayed": True})
    return _json({"job": wire.job_to_wire(write())})


@router.post("/leases/complete", summary="Accept the attempt's result (fenced)")
def complete(req: CompleteRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    lease = req.lease.lease()
    return _fenced(
        svc, lease, "complete", lambda: svc.store.complete(lease, req.verdict, req.report)
    )


@router.post("/leases/complete-many", summary="Accept several results in one transaction")
def complete_many(req: CompleteManyRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    batch = [(r.lease.lease(), r.verdict, r.report) for r in req.results]
    jobs = _jobs_of(svc, [lease.job_id for lease, _, _ in batch])
    fresh = [
        (i, item)
        for i, item in enumerate(batch)
        if (job := jobs.get(item[0].job_id)) is None
        or _replay_of(svc, job, item[0], "complete") is None
    ]
    accepted = [True] * len(batch)
    for (i, _item), ok in zip(fresh, svc.store.complete_many([b for _, b in fresh]), strict=True):
        accepted[i] = ok
    return _json({"accepted": accepted})


def _jobs_of(svc: Services, job_ids: list[str]) -> dict[str, Job]:
    """The batch's jobs in one read (none found on an error: each is then treated as fresh
    and the store's fenced write decides, as for a single call)."""
    try:
        return {job.id: job for job in svc.store.jobs_by_ids(None, job_ids)}
    except Exception:
        return {}


@router.post("/leases/fail", summary="Record a failed attempt (fenced)")
def fail(req: FailRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    lease = req.lease.lease()
    return _fenced(
        svc, lease, "fail",
        lambda: svc.store.fail(lease, req.code, req.message, permanent=req.permanent),
    )  # fmt: skip


@router.post("/leases/release", summary="Hand the job back without using an attempt (fenced)")
def release(req: MessageRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    lease = req.lease.lease()
    reason = req.message or "worker shutting down"
    return _fenced(svc, lease, "release", lambda: svc.store.release(lease, reason))


@router.post("/leases/acknowledge-cancel", summary="The worker stopped after a cancel request")
def acknowledge_cancel(req: MessageRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    lease = req.lease.lease()
    message = req.message or "cancelled on request"
    return _fenced(
        svc, lease, "acknowledge-cancel", lambda: svc.store.acknowledge_cancel(lease, message)
    )


@router.post("/leases/acknowledge-pause", summary="The worker stopped after a pause request")
def acknowledge_pause(req: MessageRequest, _: WorkerPrincipal, svc: Svc) -> Response:
    lease = req.lease.lease()
    message = req.message or "paused on request"
    return _fenced(
        svc, lease, "acknowledge-pause", lambda: svc.store.acknowledge_pause(lease, message)
    )


# --- the job's files --------------------------------------------------------------------------


def _held_job(svc: Services, job_id: str, token: str) -> Job:
    """The job, if ``token`` is its live lease; LeaseLost otherwise."""
    job = svc.store.get(None, job_id)
    if job.state is not JobState.RUNNING or not token or job.lease_token != token:
        raise LeaseLost(f"job {job_id}: this lease is no longer held")
    return job


def _input_of(job: Job, subtitle: int | None) -> tuple[str, str]:
    """(source type, reference) of the job's file, or of its ``subtitle``-th subtitle file."""
    if subtitle is None:
        return job.source_type, job.source_ref
    if subtitle >= len(job.inputs.subtitles):
        raise NotFound(f"job {job.id} has no subtitle file {subtitle}")
    sidecar = job.inputs.subtitles[subtitle]
    return sidecar.source_type, sidecar.source_ref


@router.post("/leases/input", summary="Where the worker gets the job's file (or a subtitle file)")
def input_location(req: InputRequest, _: WorkerPrincipal, svc: Svc) -> dict[str, Any]:
    job = _held_job(svc, req.lease.job_id, req.lease.token)
    kind, ref = _input_of(job, req.subtitle)
    if kind in {"path", "url"}:
        # Read under the worker's own KICKFLOW_ALLOWED_ROOTS / fetched under its URL policy.
        return {"kind": kind}
    if kind == drive_source.KIND:
        return _drive_token(svc, job, ref, req.force_refresh)
    if kind != "upload":
        raise RequestInvalid(f"job {job.id}: source type {kind!r} has no input here")
    try:
        stored = svc.storage.stat(ref)
    except StoredObjectMissing:
        if req.subtitle is None:
            raise
        return {"kind": "missing"}  # a subtitle file gone: a finding, the media still checked
    answer: dict[str, Any] = {"size": stored.size, "sha256": stored.sha256}
    url = svc.storage.presigned_url(ref, svc.settings.s3_presign_seconds)
    if url is not None:
        return answer | {"kind": "presigned", "url": url}
    return answer | {"kind": "download", "local_ref": ref}


class UsageRequest(LeaseOnly):
    add_seconds: float = Field(0.0, ge=0, le=86400, description="audio just sent (0: read)")


@router.post(
    "/leases/transcription-usage",
    summary="The leased job's organisation's transcription cap and usage today (and add to it)",
)
def transcription_usage(req: UsageRequest, _: WorkerPrincipal, svc: Svc) -> dict[str, Any]:
    from kickflow.worker.usage import utc_day

    job = _held_job(svc, req.lease.job_id, req.lease.token)
    day = utc_day()
    if req.add_seconds > 0:
        svc.store.add_transcription_usage(job.org_id, day, req.add_seconds)
    return {
        "day": day,
        "cap_seconds": svc.settings.transcription_org_daily_minutes * 60,
        "used_seconds": svc.store.transcription_used_s(job.org_id, day),
    }


def _drive_token(svc: Services, job: Job, ref: str, force: bool) -> dict[str, Any]:
    """A valid access token of the job's Google connection, looked up in the job's own
    organisation (another organisation's connection id is "not connected"); the refresh
    token never leaves the service."""
    from kickflow.integrations.google.tokens import GoogleTokens

    connection_id = drive_source.parse_ref(ref).connection_id
    tokens = GoogleTokens(svc.store, svc.settings).access_source(job.org_id, connection_id)
    token = tokens.access_token(force_refresh=force)
    found = svc.store.google_connection_by_id(job.org_id, connection_id)
    expires = found.access_expires_at if found is not None else None
    return {"kind": drive_source.KIND, "access_token": token, "expires_at": expires}


def _range_start(header: str | None, size: int) -> int:
    """The start of a ``Range: bytes=N-`` request (the only form a resuming worker sends)."""
    if not header:
        return 0
    spec = header.strip()
    if not spec.startswith(RANGE_PREFIX) or not spec.endswith("-"):
        raise RequestInvalid("only `Range: bytes=N-` is supported")
    try:
        start = int(spec[len(RANGE_PREFIX) : -1])
    except ValueError:
        raise RequestInvalid("only `Range: bytes=N-` is supported") from None
    if not 0 <= start <= size:
        raise RequestInvalid(f"range start {start} is outside the file ({size} bytes)")
    return start


@router.get("/leases/{job_id}/file", summary="Stream the job's uploaded file (Range: bytes=N-)")
def download(
    job_id: str,
    request: Request,
    _: WorkerPrincipal,
    svc: Svc,
    lease_token: Annotated[str, Header(alias=wire.LEASE_TOKEN_HEADER)] = "",
    subtitle: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    job = _held_job(svc, job_id, lease_token)
    kind, ref = _input_of(job, subtitle)
    if kind != "upload":
        raise NotFound(f"job {job_id} has no uploaded file")
    stored = svc.storage.stat(ref)
    start = _range_start(request.headers.get("range"), stored.size)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(stored.size - start),
        wire.SHA256_HEADER: stored.sha256,
        "ETag": f'"{stored.sha256}"',
    }
    status = 200
    if start:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{max(start, stored.size - 1)}/{stored.size}"
    chunks: Iterator[bytes] = svc.storage.read(ref, start)
    return StreamingResponse(
        chunks, status_code=status, headers=headers, media_type="application/octet-stream"
    )


@router.put(
    "/leases/{job_id}/artifacts/{name}",
    summary="Store one of the attempt's artefacts, e.g. a thumbnail (fenced)",
)
def put_artifact(
    job_id: Annotated[str, Path(max_length=64)],
    name: Annotated[str, Path(max_length=80)],
    req: ArtifactRequest,
    _: WorkerPrincipal,
    svc: Svc,
) -> Response:
    """Only while the lease is live (409 ``lease_lost`` otherwise), and only under a name of
    the lease's own attempt (:mod:`kickflow.artifacts`)."""
    if req.lease.job_id != job_id:
        raise RequestInvalid(f"the lease is for job {req.lease.job_id}, not {job_id}")
    job = _held_job(svc, job_id, req.lease.token)
    try:
        data = wire.artifact_from_wire(req.data)
    except ValueError as exc:
        raise RequestInvalid(str(exc)) from None
    artifacts.check_upload(name, job.attempt, len(data))
    svc.storage.put_artifact(job.org_id, job.id, name, data)
    return _json({"stored": name, "bytes": len(data)})
