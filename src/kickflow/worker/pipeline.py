"""One attempt of one job: initializing (≈5 %) → downloading (10–40 %, real bytes into the
attempt's temp dir) → analyzing (40–95 %, the engine's FFmpeg progress) → thumbnails (95–99 %,
pictures at the video findings, :mod:`kickflow.worker.thumbnails`) → reporting (99–100 %).

Every outcome ends in exactly one fenced write (complete, fail, release, cancel or pause
acknowledgement); a rejected write means another worker owns the job now, so this attempt's
outputs are dropped. ``(job_id, attempt)`` identifies the attempt for idempotent side effects.

The job's inputs go to the engine as submitted: its subtitle files, each fetched into the
attempt's directory through the same sources as the main file (capped at
KICKFLOW_MAX_SUBTITLE_MB), and its source timecode. A subtitle file that cannot be fetched
(gone, refused) does not fail the job: the media is still checked and that file gets a
finding under its delivered name; a transient error (the service unreachable) retries the
attempt like any other.

Transcription is held to the profile's per-job budget and, on a direct worker, to what the
job's organisation has left of KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES today
(:mod:`kickflow.worker.usage`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kickflow.config import Settings
from kickflow.errors import (
    FileTooLarge,
    InputError,
    JobCancelRequested,
    JobPauseRequested,
    JobReleased,
    KickflowError,
    LeaseLost,
)
from kickflow.integrations.google import drive_source
from kickflow.jobs import Claimed, Job, Lease, WorkerPort, sidecars, sources
from kickflow.media.inputs import SubtitleInput
from kickflow.profiles import Profile, load_profile, load_profile_text
from kickflow.speech.transcribe import transcriber_from_settings
from kickflow.storage import Storage, open_storage
from kickflow.worker import logs
from kickflow.worker.control import JobControl, too_large_message
from kickflow.worker.messages import failure_message, redact, unexpected_message
from kickflow.worker.tempdirs import job_dir
from kickflow.worker.thumbnails import ArtifactSink, Thumbnailer
from kickflow.worker.usage import OrgUsage, org_usage

if TYPE_CHECKING:
    from kickflow.speech.transcribe import Transcriber

SUBTITLES_DIR = "subtitles"
UNFETCHED = "unavailable"  # an absent file: the loader reports the delivered name as unreadable


class QCReport(Protocol):
    @property
    def verdict(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class QCEngine(Protocol):
    """The engine's ``check_file`` signature (injectable for tests of the queue)."""

    def __call__(
        self,
        path: Path,
        profile: Profile,
        *,
        on_progress: Callable[[float], None] | None = None,
        settings: Settings | None = None,
        work_dir: Path | None = None,
        display_name: str | None = None,
        timecode_start: str | None = None,
        subtitles: Sequence[SubtitleInput] = (),
        transcriber: Transcriber | None = None,
    ) -> QCReport: ...


OnBytes = Callable[[int, int | None], None]


class JobFiles(ArtifactSink, Protocol):
    """The job's files: ``fetch`` puts its input where the engine can read it (a copy in the
    attempt's temp dir, or the file itself when it may be read in place; ``on_bytes(done,
    total)`` as bytes arrive), and ``put_artifact`` stores what the attempt made."""

    def fetch(self, job: Job, lease: Lease, dest_dir: Path, on_bytes: OnBytes) -> Path: ...

    def fetch_sidecar(self, job: Job, lease: Lease, index: int, dest_dir: Path) -> Path:
        """Copy the job's ``index``-th subtitle file into ``dest_dir`` (created), capped at
        KICKFLOW_MAX_SUBTITLE_MB; an InputError naming it when it cannot be had."""
        ...


class LocalInputs:
    """Files on this machine (a direct-database worker): inputs from path sources under
    KICKFLOW_ALLOWED_ROOTS and the service's own upload storage (and Google Drive, with the
    job's organisation's connections from ``store``); artefacts into that storage.

    An artefact write is not conditional on the lease the way a database write is: the
    pipeline checks the lease just before storing, and names are per attempt (see
    :mod:`kickflow.artifacts`), so a write that races a lost lease only leaves an orphan the
    accepted report never names."""

    def __init__(self, settings: Settings, store: object | None = None) -> None:
        self.settings = settings
        self._storage: Storage | None = None
        self._store = store  # a Drive job's connections (its organisation's, by id)

    def put_artifact(self, job: Job, lease: Lease, name: str, data: bytes) -> None:
        if self._storage is None:
            self._storage = open_storage(self.settings)
        self._storage.put_artifact(job.org_id, job.id, name, data)

    def _source(self, kind: str, job: Job) -> sources.Source:
        if kind == drive_source.KIND:
            return drive_source.for_store(self._store, self.settings, job.org_id)
        return sources.get_source(kind)

    def fetch(self, job: Job, lease: Lease, dest_dir: Path, on_bytes: OnBytes) -> Path:
        source = self._source(job.source_type, job)
        info = source.inspect(job.source_ref, self.settings)
        max_bytes = self.settings.max_file_mb * 1_000_000
        if max_bytes and info.size is not None and info.size > max_bytes:
            raise FileTooLarge(too_large_message(info.size, max_bytes))
        return source.fetch(job.source_ref, dest_dir, self.settings, on_bytes)

    def fetch_sidecar(self, job: Job, lease: Lease, index: int, dest_dir: Path) -> Path:
        sidecar = job.inputs.subtitles[index]
        source = self._source(sidecar.source_type, job)
        return sidecars.fetch(sidecar, dest_dir, self.settings, source)


def default_engine() -> QCEngine:
    from kickflow.engine import check_file

    return check_file


STALL_FLOOR_S = 10.0


def watchdog_settings(settings: Settings) -> Settings:
    """Settings for the engine in a worker: the FFmpeg watchdog fires before the lease expires.

    Heartbeats come from FFmpeg's progress, so a hung FFmpeg also stops the heartbeat. Killing
    it at ``min(stall, lease - 2 * heartbeat)`` lets the worker itself fail the attempt with the
    real reason ("no progress … — killed; will retry") instead of the reaper's ``lease_expired``.
    """
    ceiling = settings.lease_seconds - 2 * settings.heartbeat_seconds
    stall = min(settings.ffmpeg_stall_seconds, max(STALL_FLOOR_S, ceiling))
    return settings.model_copy(update={"ffmpeg_stall_seconds": stall})


@dataclass
class AttemptContext:
    store: WorkerPort
    settings: Settings
    engine: QCEngine
    release: threading.Event
    inputs: JobFiles | None = None

    def __post_init__(self) -> None:
        if self.inputs is None:
            self.inputs = LocalInputs(self.settings, self.store)


def run_attempt(ctx: AttemptContext, claimed: Claimed) -> str:
    """Run one claimed attempt to its single final write; returns the outcome's name."""
    job, lease = claimed.job, claimed.lease
    control = JobControl(
        ctx.store, lease, ctx.settings.heartbeat_seconds, ctx.release, ctx.settings.lease_seconds
    )
    fields = {"job": job.id, "attempt": lease.attempt, "worker": lease.worker_id}
    logs.info("started", file=job.file_name, source=job.source_type, **fields)
    with job_dir(ctx.settings.data_dir, lease) as tmp:
        try:
            verdict, report = _analyse(ctx, job, control, tmp)
            control.report(99.0, "reporting", force=True)
            ctx.store.complete(lease, verdict, report)
            logs.info("completed", verdict=verdict, progress=100.0, **fields)
            return "completed"
        except BaseException as exc:  # every outcome must end in one final write
            return _settle(ctx, job, lease, control, exc)


def _analyse(
    ctx: AttemptContext, job: Job, control: JobControl, tmp: Path
) -> tuple[str, dict[str, Any]]:
    control.report(5.0, "initializing", force=True)
    profile = profile_of(job)
    max_bytes = ctx.settings.max_file_mb * 1_000_000
    control.report(10.0, "downloading", force=True)
    assert ctx.inputs is not None  # set in __post_init__
    path = ctx.inputs.fetch(
        job, control.lease, tmp, lambda done, total: control.on_bytes(done, total, max_bytes)
    )
    subtitles = subtitle_inputs(ctx.inputs, job, control.lease, tmp)
    control.report(40.0, "analyzing", force=True)
    settings = watchdog_settings(ctx.settings)
    wants = profile.speech.transcription.enabled
    usage = org_usage(ctx.store, settings, job, control.lease) if wants else None
    transcriber = job_transcriber(settings, profile, usage)
    try:
        report = ctx.engine(
            path,
            profile,
            on_progress=control.on_fraction,
            settings=settings,
            work_dir=tmp,
            display_name=job.file_name,
            timecode_start=job.inputs.timecode_start,
            subtitles=subtitles,
            transcriber=transcriber,
        )
    finally:
        if usage is not None:
            usage.record(transcriber, job)
    thumbnails = Thumbnailer(settings, ctx.inputs, control)
    return report.verdict, thumbnails.add_to(report.to_dict(), path, job, tmp)


def job_transcriber(
    settings: Settings, profile: Profile, usage: OrgUsage | None
) -> Transcriber | None:
    """The job's transcriber (None without an API key) within the profile's budget, cut to
    what its organisation has left of today's cap (:mod:`kickflow.worker.usage`)."""
    if not settings.resolved_transcription_key():
        return None
    budget = profile.speech.transcription.budget_s
    return transcriber_from_settings(
        settings, budget_s=budget if usage is None else usage.budget_s(budget)
    )


def subtitle_inputs(
    files: JobFiles, job: Job, lease: Lease, tmp: Path
) -> tuple[SubtitleInput, ...]:
    """The job's subtitle files as local copies, in their submitted order. One that cannot
    be fetched is handed over as an absent file under its delivered name: the loader turns
    it into a finding and the media is still checked (the reason is logged)."""
    out = []
    for index, sidecar in enumerate(job.inputs.subtitles):
        dest = tmp / SUBTITLES_DIR / str(index)
        try:
            path = files.fetch_sidecar(job, lease, index, dest)
        except InputError as exc:
            reason = sidecars.unavailable_message(sidecar.name, exc)
            logs.warning("subtitle_unavailable", job=job.id, file=sidecar.name, error=reason)
            path = dest / UNFETCHED
        out.append(SubtitleInput(path, sidecar.name))
    return tuple(out)


def profile_of(job: Job) -> Profile:
    """What the job is judged by: the custom profile's text it was submitted with (never the
    organisation's profile as it is now), else the built-in it names."""
    if job.profile_source is not None:
        return load_profile_text(job.profile_source, job.profile)
    return load_profile(job.profile)


def for_owner(message: str, job: Job, lease: Lease) -> str:
    """What the job's owner reads (``lastError``, history): the log keeps the full text."""
    keep = [job.source_ref] if job.source_type == "path" else []
    # The worker id as a whole word only: a path the owner submitted may contain its letters.
    worker = re.compile(rf"(?<![\w.-]){re.escape(lease.worker_id)}(?![\w.-])")
    return worker.sub("its worker", redact(message, keep))


def _settle(
    ctx: AttemptContext, job: Job, lease: Lease, control: JobControl, exc: BaseException
) -> str:
    """The one final write for an attempt that did not complete."""
    fields = {
        "job": job.id,
        "attempt": lease.attempt,
        "worker": lease.worker_id,
        "phase": control.phase,
        "progress": control.progress,
    }
    try:
        return _write_outcome(ctx, job, lease, control, exc, fields)
    except LeaseLost:
        logs.warning("fenced", reason="lease lost: outputs discarded", **fields)
        return "fenced"
    except KickflowError as write_exc:
        logs.warning("write_failed", error=write_exc.message, **fields)
        return "write_failed"


def _write_outcome(
    ctx: AttemptContext,
    job: Job,
    lease: Lease,
    control: JobControl,
    exc: BaseException,
    fields: dict[str, Any],
) -> str:
    store = ctx.store
    if isinstance(exc, LeaseLost):
        raise exc
    if isinstance(exc, JobCancelRequested):
        store.acknowledge_cancel(lease, f"cancelled on request at {control.progress:.0f}%")
        logs.info("cancelled", **fields)
        return "cancelled"
    if isinstance(exc, JobPauseRequested):
        store.acknowledge_pause(lease, f"paused on request at {control.progress:.0f}%")
        logs.info("paused", **fields)
        return "paused"
    if isinstance(exc, JobReleased | KeyboardInterrupt | SystemExit):
        store.release(lease, f"its worker shut down at {control.progress:.0f}%")
        logs.info("released", **fields)
        return "released"
    return _write_failure(ctx, job, lease, control, exc, fields)


def _write_failure(
    ctx: AttemptContext,
    job: Job,
    lease: Lease,
    control: JobControl,
    exc: BaseException,
    fields: dict[str, Any],
) -> str:
    if isinstance(exc, KickflowError):
        code, permanent = exc.code, exc.permanent
        will_retry = not permanent and lease.attempt < job.max_attempts
        message = failure_message(exc, control.phase, control.progress, will_retry=will_retry)
    else:
        code, permanent = "internal_error", False
        message = unexpected_message(exc, control.phase)
    failed = ctx.store.fail(lease, code, for_owner(message, job, lease), permanent=permanent)
    logs.warning(
        "failed" if failed.terminal else "retry_scheduled", code=code, error=message, **fields
    )
    return "failed" if failed.terminal else "retry_scheduled"
