"""A worker that talks to the service instead of the database: ``kickflow worker --server URL
--token T``. :class:`HttpWorkerStore` implements :class:`~kickflow.jobs.port.WorkerPort` over the
worker protocol (:mod:`kickflow.worker.protocol`) and fetches each job's input (a download with
``Range`` resume and a SHA-256 check, a presigned object-store URL, a path under this
machine's own ``KICKFLOW_ALLOWED_ROOTS``, or a Google Drive file read with an access token the
service gives for the lease, never its refresh token); each subtitle file delivered with the
job comes the same way (``subtitle``: its position in the job's inputs), capped at
KICKFLOW_MAX_SUBTITLE_MB.

Faults: a connection error or a 502/503/504 is transient. Final writes are retried with backoff
until the lease would have expired (the service answers a repeated, already accepted write as
accepted); heartbeats are tried once (the job's control decides when silence means the lease is
gone); claims are not retried (the claim loop polls again). A refused token or protocol version
is permanent and says so.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from kickflow.config import Settings
from kickflow.errors import (
    ChecksumMismatch,
    FileTooLarge,
    GoogleAccessDenied,
    GoogleNotConfigured,
    GoogleNotConnected,
    GoogleUnavailable,
    KickflowError,
    LeaseLost,
    ProtocolMismatch,
    ServiceUnreachable,
    SubtitleRefused,
)
from kickflow.integrations.google import drive_source
from kickflow.jobs import (
    Claimed,
    HeartbeatReply,
    Job,
    Lease,
    ReapResult,
    WorkerInfo,
    sidecars,
    sources,
)
from kickflow.worker import logs
from kickflow.worker import protocol as wire
from kickflow.worker.usage import UsageAnswer

OnBytes = Callable[[int, int | None], None]
RETRY_FIRST_S, RETRY_MAX_S = 0.2, 5.0
TRANSIENT_STATUS = {502, 503, 504}
DOWNLOAD_CHUNK = 1024 * 1024
DOWNLOAD_RESUMES = 5
MAX_CACHED_URLS = 32  # the fixed calls' paths
# What the service met getting a Drive job's access token: the same class here, so the job
# fails with its sentence and its permanence (a revoked grant is permanent, Google down is not).
GOOGLE_ERRORS: dict[str, type[KickflowError]] = {
    cls.code: cls
    for cls in (GoogleAccessDenied, GoogleNotConfigured, GoogleNotConnected, GoogleUnavailable)
}


class LeaseTokens:
    """A Drive job's access token, asked of the service for one lease (``ask(force)``): the
    refresh token never leaves the service."""

    def __init__(self, ask: Callable[[bool], dict[str, Any]], first: str) -> None:
        self._ask, self._token = ask, first

    def access_token(self, force_refresh: bool = False) -> str:
        if force_refresh:
            self._token = str(self._ask(True)["access_token"])
        return self._token


class WorkerRefused(KickflowError):
    """The service refused this worker (token or protocol): fix the worker's configuration."""

    code = "worker_refused"


def _error_text(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
        err = body.get("error", {}) if isinstance(body, dict) else {}
        return str(err.get("code", "")), str(err.get("message", "")) or response.reason_phrase
    except ValueError:
        return "", f"HTTP {response.status_code} {response.reason_phrase}"


class HttpWorkerStore:
    """The worker side of the job store, through ``/api/worker/v1`` of a KickFlow service."""

    def __init__(
        self,
        server_url: str,
        token: str,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not server_url.startswith(("http://", "https://")):
            raise WorkerRefused(
                f"KICKFLOW_SERVER_URL {server_url!r} is not an http(s) URL "
                "(e.g. http://qc.example:8000)"
            )
        if not token:
            raise WorkerRefused(
                "no worker token: pass --token or set KICKFLOW_WORKER_TOKEN (make one with "
                "`kickflow admin create-token --org local --role worker`)"
            )
        self.settings = settings
        self.server_url = server_url.rstrip("/")
        timeout = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=10.0)
        self._headers = {
            "Authorization": f"Bearer {token}",
            wire.VERSION_HEADER: str(wire.VERSION),
        }
        self._client = httpx.Client(
            base_url=self.server_url, headers=self._headers, timeout=timeout, transport=transport
        )
        self._transport = transport
        self._urls: dict[str, httpx.URL] = {}

    @property
    def runs_reaper(self) -> bool:
        return False  # the service runs the reaper

    def close(self) -> None:
        self._client.close()

    # --- transport ----------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        """The call's absolute URL, parsed once per path (httpx would parse and join the
        relative one with the base URL on every request)."""
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.server_url + wire.PREFIX + path)
            if len(self._urls) < MAX_CACHED_URLS:  # per-artefact paths must not pile up
                self._urls[path] = url
        return url

    def _post(
        self, path: str, body: dict[str, Any], *, retry_for: float = 0.0, method: str = "POST"
    ) -> Any:
        """Send ``body``; transient failures are retried for ``retry_for`` seconds."""
        deadline = time.monotonic() + retry_for
        delay = RETRY_FIRST_S
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._answer(self._client.request(method, self._url(path), json=body))
            except ServiceUnreachable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logs.warning("service_retry", call=path, attempt=attempt, error=exc.message)
                time.sleep(delay)  # backoff between retries of one call, not a wait on a condition
                delay = min(RETRY_MAX_S, delay * 2)

    def _answer(self, response: httpx.Response) -> Any:
        if response.status_code < 300:
            return response.json() if response.content else None
        code, message = _error_text(response)
        if response.status_code in TRANSIENT_STATUS:
            raise ServiceUnreachable(f"the service answered {response.status_code}: {message}")
        if code == "lease_lost":
            raise LeaseLost(message)
        if response.status_code == 426 or code == "protocol_version":
            raise ProtocolMismatch(message)
        if response.status_code in {401, 403}:
            raise WorkerRefused(f"the service refused the worker token: {message}")
        if code in GOOGLE_ERRORS:
            raise GOOGLE_ERRORS[code](message)
        raise KickflowError(
            f"the service refused the call ({code or response.status_code}): {message}"
        )

    def _unreachable(self, exc: httpx.HTTPError) -> ServiceUnreachable:
        return ServiceUnreachable(f"cannot reach the service at {self.server_url}: {exc}")

    def _send(
        self, path: str, body: dict[str, Any], *, retry_for: float = 0.0, method: str = "POST"
    ) -> Any:
        try:
            return self._post(path, body, retry_for=retry_for, method=method)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from exc

    def _fenced(self, path: str, lease: Lease, **fields: Any) -> Job:
        body = {"lease": wire.lease_to_wire(lease), **fields}
        answer = self._retrying(path, body)
        return wire.job_from_wire(answer["job"])

    def _retrying(self, path: str, body: dict[str, Any], method: str = "POST") -> Any:
        """A final write (or an artefact): retried while the lease could still be held."""
        deadline = time.monotonic() + self.settings.lease_seconds
        delay = RETRY_FIRST_S
        while True:
            try:
                return self._send(path, body, method=method)
            except ServiceUnreachable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                logs.warning("service_retry", call=path, error=exc.message)
                time.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)

    # --- WorkerPort ---------------------------------------------------------------------

    def claim(self, worker_id: str, limit: int = 1) -> list[Claimed]:
        answer = self._send("/claim", {"worker_id": worker_id, "limit": limit})
        return [wire.claimed_from_wire(c) for c in answer["claimed"]]

    def heartbeat(self, lease: Lease, progress: float, phase: str) -> HeartbeatReply:
        body = {"lease": wire.lease_to_wire(lease), "progress": progress, "phase": phase}
        return wire.reply_from_wire(self._send("/leases/heartbeat", body))

    def complete(self, lease: Lease, verdict: str, report: dict[str, Any]) -> Job:
        return self._fenced("/leases/complete", lease, verdict=verdict, report=report)

    def complete_many(self, results: Sequence[tuple[Lease, str, dict[str, Any]]]) -> list[bool]:
        body = {
            "results": [
                {"lease": wire.lease_to_wire(lease), "verdict": verdict, "report": report}
                for lease, verdict, report in results
            ]
        }
        return [bool(ok) for ok in self._retrying("/leases/complete-many", body)["accepted"]]

    def fail(self, lease: Lease, code: str, message: str, *, permanent: bool) -> Job:
        return self._fenced("/leases/fail", lease, code=code, message=message, permanent=permanent)

    def release(self, lease: Lease, reason: str = "worker shutting down") -> Job:
        return self._fenced("/leases/release", lease, message=reason)

    def acknowledge_cancel(self, lease: Lease, message: str = "cancelled on request") -> Job:
        return self._fenced("/leases/acknowledge-cancel", lease, message=message)

    def acknowledge_pause(self, lease: Lease, message: str = "paused on request") -> Job:
        return self._fenced("/leases/acknowledge-pause", lease, message=message)

    def register_worker(self, worker_id: str, hostname: str, pid: int, concurrency: int) -> None:
        body = {
            "worker_id": worker_id,
            "hostname": hostname,
            "pid": pid,
            "concurrency": concurrency,
        }
        self._send("/workers/register", body, retry_for=self.settings.lease_seconds)

    def worker_heartbeat(self, worker_id: str, state: str = "running") -> None:
        self._send("/workers/heartbeat", {"worker_id": worker_id, "state": state})

    def prune_workers(self, older_than_seconds: float = 86400.0) -> int:
        return 0  # the service prunes its registry

    def live_workers(self) -> list[WorkerInfo]:
        return [wire.worker_from_wire(w) for w in self._send("/workers/live", {})["workers"]]

    def reap(self) -> ReapResult:
        return ReapResult([], [], [], [])  # the service runs the reaper

    def transcription_usage(self, lease: Lease, add_s: float = 0.0) -> UsageAnswer:
        """The leased job's organisation's transcription cap and usage today, after adding
        ``add_s`` (the service's cap: KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES there)."""
        body = {"lease": wire.lease_to_wire(lease), "add_seconds": add_s}
        answer = (
            self._send("/leases/transcription-usage", body)
            if add_s <= 0
            else (self._retrying("/leases/transcription-usage", body))
        )
        return UsageAnswer(float(answer["cap_seconds"]), float(answer["used_seconds"]))

    # --- the job's files ----------------------------------------------------------------

    def put_artifact(self, job: Job, lease: Lease, name: str, data: bytes) -> None:
        """Store one of the attempt's artefacts through the service (fenced there: LeaseLost
        when the lease is gone)."""
        path = f"/leases/{quote(lease.job_id, safe='')}/artifacts/{quote(name, safe='')}"
        self._retrying(path, wire.artifact_to_wire(lease, data), method="PUT")

    def fetch(self, job: Job, lease: Lease, dest_dir: Path, on_bytes: OnBytes) -> Path:
        """The job's input as a local file (see the module docstring)."""
        where = self._send("/leases/input", {"lease": wire.lease_to_wire(lease)})
        kind = where["kind"]
        if kind == drive_source.KIND:
            source = self._drive_source(lease, None, where)
            return source.fetch(job.source_ref, dest_dir, self.settings, on_bytes)
        if kind in {"path", "url"}:
            path: Path = sources.get_source(kind).fetch(
                job.source_ref, dest_dir, self.settings, on_bytes
            )
            return path
        size, digest = int(where["size"]), str(where["sha256"])
        max_bytes = self.settings.max_file_mb * 1_000_000
        if max_bytes and size > max_bytes:
            from kickflow.worker.control import too_large_message

            raise FileTooLarge(too_large_message(size, max_bytes))
        in_place = self._local_copy(where, size, digest)
        if in_place is not None:
            on_bytes(size, size)
            return in_place
        target = dest_dir / _local_name(job.file_name)
        if kind == "presigned":
            self._download(str(where["url"]), {}, target, size, digest, on_bytes)
        else:
            headers = self._headers | {wire.LEASE_TOKEN_HEADER: lease.token}
            url = f"{self.server_url}{wire.PREFIX}/leases/{lease.job_id}/file"
            self._download(url, headers, target, size, digest, on_bytes)
        return target

    def fetch_sidecar(self, job: Job, lease: Lease, index: int, dest_dir: Path) -> Path:
        """The job's ``index``-th subtitle file as a local file: from this machine's own
        allowed roots for a path, else downloaded like the main upload (SHA-256 checked)."""
        sidecar = job.inputs.subtitles[index]
        body = {"lease": wire.lease_to_wire(lease), "subtitle": index}
        where = self._send("/leases/input", body)
        if where["kind"] == "missing":
            raise SubtitleRefused(f"{sidecar.name} is no longer in the service's storage.")
        if where["kind"] == "path":
            return sidecars.fetch(sidecar, dest_dir, self.settings)
        if where["kind"] == drive_source.KIND:
            source = self._drive_source(lease, index, where)
            return sidecars.fetch(sidecar, dest_dir, self.settings, source)
        size, digest = int(where["size"]), str(where["sha256"])
        limit = sidecars.max_bytes(self.settings)
        if size > limit:
            raise SubtitleRefused(sidecars.too_big_message(sidecar.name, size, limit))
        in_place = self._local_copy(where, size, digest)
        if in_place is not None:
            return in_place
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / _local_name(sidecar.name, "subtitle")
        on_bytes = sidecars.capped(sidecar.name, limit)
        if where["kind"] == "presigned":
            self._download(str(where["url"]), {}, target, size, digest, on_bytes)
        else:
            headers = self._headers | {wire.LEASE_TOKEN_HEADER: lease.token}
            url = f"{self.server_url}{wire.PREFIX}/leases/{lease.job_id}/file?subtitle={index}"
            self._download(url, headers, target, size, digest, on_bytes)
        return target

    def _drive_source(
        self, lease: Lease, subtitle: int | None, where: dict[str, Any]
    ) -> drive_source.DriveSource:
        """The Drive source reading with the token the service gave for this lease (a forced
        refresh asks the service again)."""
        body = {"lease": wire.lease_to_wire(lease), "subtitle": subtitle}

        def ask(force: bool) -> dict[str, Any]:
            answer: dict[str, Any] = self._send("/leases/input", body | {"force_refresh": force})
            return answer

        tokens = LeaseTokens(ask, str(where["access_token"]))
        return drive_source.SOURCE.bound(lambda _connection_id: tokens)

    def _local_copy(self, where: dict[str, Any], size: int, digest: str) -> Path | None:
        """The upload itself, when this worker shares the service's upload directory (the
        embedded slots of ``kickflow serve``) and the file there is the one announced."""
        ref = where.get("local_ref")
        if not ref or self.settings.storage != "local":
            return None
        from kickflow.storage import open_storage

        try:
            path = open_storage(self.settings).local_path(str(ref))
        except KickflowError:  # not in this machine's upload area: download it
            return None
        if path is None or not path.is_file() or path.stat().st_size != size:
            return None
        return path if _sha256_of(path) == digest else None

    def _download(
        self,
        url: str,
        headers: dict[str, str],
        target: Path,
        size: int,
        digest: str,
        on_bytes: OnBytes,
    ) -> None:
        """Stream ``url`` to ``target``, resuming with ``Range`` after a network error, then
        check the SHA-256 (a mismatch is transient: the attempt is retried)."""
        download = _Download(target, size, on_bytes)
        timeout = httpx.Timeout(connect=5.0, read=60.0, write=30.0, pool=10.0)
        with httpx.Client(timeout=timeout, transport=self._transport) as client:
            for resume in range(DOWNLOAD_RESUMES + 1):
                try:
                    download.run(client, url, headers, self._answer)
                    break
                except httpx.TransportError as exc:
                    if resume == DOWNLOAD_RESUMES:
                        raise ServiceUnreachable(
                            f"download of the input failed {resume + 1} times: {exc}"
                        ) from exc
                    logs.warning("download_resume", at=download.done, error=str(exc))
        got = download.hasher.hexdigest()
        if download.done != size or got != digest:
            target.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"downloaded input is corrupt: {download.done} of {size} bytes, sha256 "
                f"{got[:16]}… instead of {digest[:16]}…; will retry"
            )


class _Download:
    """One input download into ``target``; ``run`` again after a network error resumes it."""

    def __init__(self, target: Path, size: int, on_bytes: OnBytes) -> None:
        self.target = target
        self.size = size
        self.on_bytes = on_bytes
        self.done = 0
        self.hasher = hashlib.sha256()

    def run(
        self,
        client: httpx.Client,
        url: str,
        headers: dict[str, str],
        check: Callable[[httpx.Response], Any],
    ) -> None:
        ranged = headers | ({"Range": f"bytes={self.done}-"} if self.done else {})
        with client.stream("GET", url, headers=ranged) as response:
            if response.status_code >= 300:
                response.read()
                check(response)
            if self.done and response.status_code != 206:  # no resume: start again
                self.done, self.hasher = 0, hashlib.sha256()
            mode = "ab" if self.done else "wb"
            with self.target.open(mode) as out:
                for chunk in response.iter_bytes():  # as it arrives: a cut loses nothing
                    out.write(chunk)
                    self.hasher.update(chunk)
                    self.done += len(chunk)
                    self.on_bytes(self.done, self.size)


def _sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(DOWNLOAD_CHUNK), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _local_name(file_name: str, base: str = "input") -> str:
    """A name for the downloaded copy: ``base`` plus the original extension, if it is plain
    (the timed-text loader reads a subtitle file's format from it too)."""
    suffix = Path(file_name).suffix.lower()
    return base + (suffix if suffix[1:].isalnum() and len(suffix) <= 12 else "")
