"""Thumbnails at the video findings of a finished analysis: chosen from the report, taken in
one FFmpeg run (:mod:`kickflow.media.thumbnails`), stored as the job's artefacts and named in
the report.

A picture is taken at each timed finding of a ``video.*`` check: at its start, or in the middle
of a short segment (a boundary frame may still be the picture before it). Findings on the same
frame share a picture; past :data:`MAX_THUMBNAILS` frames, the pictures are spread evenly over
the findings. A failure here never fails the job: the report then says the thumbnails are
unavailable and why. Only the job's own stop signals (lease lost, cancel, pause, shutdown) go
through, since whatever the attempt stores after them would be fenced off.

Report fields added (only when there are timed video findings; additive, so the report's
``schema_version`` stays): ``thumbnails: {status: ok|unavailable, count, wanted, message}``,
``artifacts: [{name, kind, content_type, bytes, at_s}]`` and ``thumbnail: <name>`` on each
finding that has a picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kickflow import artifacts
from kickflow.config import Settings
from kickflow.engine import limits_for
from kickflow.errors import (
    JobCancelRequested,
    JobPauseRequested,
    JobReleased,
    KickflowError,
    LeaseLost,
)
from kickflow.jobs import Job, Lease
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.thumbnails import FrameSource, extract_frames, max_inputs
from kickflow.worker import logs
from kickflow.worker.control import JobControl
from kickflow.worker.messages import redact

MAX_THUMBNAILS = 24
SHORT_SEGMENT_S = 2.0
DEFAULT_FRAME_S = 0.04
STOP_SIGNALS = (LeaseLost, JobCancelRequested, JobPauseRequested, JobReleased)
# Progress of the phase: pictures taken in 95–98 %, stored in 98–99 %.
START, TAKEN, STORED = 95.0, 98.0, 99.0


class ArtifactSink(Protocol):
    """Where an attempt's artefacts go: the worker's storage, or the service (fenced there)."""

    def put_artifact(self, job: Job, lease: Lease, name: str, data: bytes) -> None: ...


# --- which pictures ---------------------------------------------------------------------------


def finding_time(finding: dict[str, Any], frame_s: float) -> float | None:
    """Where the picture of a finding is taken; None when it wants none."""
    start = finding.get("start_s")
    if not str(finding.get("check", "")).startswith("video.") or start is None:
        return None
    end = finding.get("end_s")
    if end is None or end <= start:
        return float(start)
    at = (start + end) / 2 if end - start < SHORT_SEGMENT_S else start
    return float(min(at, max(start, end - frame_s)))  # a frame inside the segment


def spread(items: list[int], cap: int) -> list[int]:
    """At most ``cap`` of ``items``, evenly spaced, first and last included."""
    if len(items) <= cap:
        return items
    if cap == 1:
        return [items[len(items) // 2]]
    step = (len(items) - 1) / (cap - 1)
    return [items[round(k * step)] for k in range(cap)]


@dataclass
class Shots:
    """The pictures to take and the findings each one is for."""

    times: list[float] = field(default_factory=list)
    findings: list[list[int]] = field(default_factory=list)  # per picture: finding indexes
    wanted: int = 0  # findings that want a picture

    def thinned(self, cap: int) -> Shots:
        """At most ``cap`` of the pictures, spread evenly."""
        keep = spread(list(range(len(self.times))), cap)
        return Shots([self.times[i] for i in keep], [self.findings[i] for i in keep], self.wanted)


def plan_shots(
    findings: list[dict[str, Any]], *, frame_s: float, duration_s: float | None, cap: int
) -> Shots:
    """One picture per distinct frame of the video findings, at most ``cap`` of them."""
    by_frame: dict[int, list[tuple[int, float]]] = {}
    last = (duration_s - frame_s) if duration_s else math.inf
    for index, finding in enumerate(findings):
        at = finding_time(finding, frame_s)
        if at is not None:
            at = max(0.0, min(at, last))
            by_frame.setdefault(math.floor(at / frame_s + 1e-6), []).append((index, at))
    chosen = spread(sorted(by_frame), cap)
    return Shots(
        times=[min(at for _, at in by_frame[frame]) for frame in chosen],
        findings=[[index for index, _ in by_frame[frame]] for frame in chosen],
        wanted=sum(len(group) for group in by_frame.values()),
    )


def frame_source(report: dict[str, Any], path: Path) -> FrameSource | None:
    """The report's first video stream as a picture source (None: no video stream)."""
    media = report.get("media") or {}
    streams = media.get("video") or []
    if not streams or not media.get("format"):
        return None
    video = streams[0]
    rate = video.get("frame_rate") or video.get("avg_frame_rate")
    frame_s = 1.0 / rate if rate and rate >= 1 else DEFAULT_FRAME_S
    return FrameSource(
        path, media["format"], int(video["index"]), int(video["width"]), int(video["height"]),
        frame_s,
    )  # fmt: skip


# --- what the report says ---------------------------------------------------------------------


def with_pictures(
    report: dict[str, Any], shots: Shots, names: list[str], pictures: list[bytes]
) -> dict[str, Any]:
    """The report naming each picture at its findings and listing it as an artefact."""
    findings = [dict(f) for f in report["findings"]]
    listed = []
    for name, data, at, indexes in zip(names, pictures, shots.times, shots.findings, strict=True):
        for index in indexes:
            findings[index]["thumbnail"] = name
        listed.append(
            {
                "name": name,
                "kind": "thumbnail",
                "content_type": artifacts.content_type(name),
                "bytes": len(data),
                "at_s": round(at, 3),
            }
        )
    got = sum(len(indexes) for indexes in shots.findings)
    message = f"{len(names)} pictures for {got} of {shots.wanted} video findings"
    status = {"status": "ok", "count": len(names), "wanted": shots.wanted, "message": message}
    return {**report, "findings": findings, "artifacts": listed, "thumbnails": status}


def unavailable(report: dict[str, Any], wanted: int, reason: str) -> dict[str, Any]:
    """The report saying its thumbnails are missing, and why."""
    status = {"status": "unavailable", "count": 0, "wanted": wanted, "message": reason}
    return {**report, "artifacts": [], "thumbnails": status}


# --- taking and storing them ------------------------------------------------------------------


def unexpected(exc: BaseException) -> str:
    return f"unexpected error ({type(exc).__name__}: {exc})"


@dataclass
class Thumbnailer:
    """Takes and stores the thumbnails of one attempt."""

    settings: Settings
    files: ArtifactSink
    control: JobControl

    def add_to(
        self, report: dict[str, Any], path: Path, job: Job, work_dir: Path
    ) -> dict[str, Any]:
        """``report`` with its thumbnails (or the reason they are missing); unchanged when it
        has no timed video finding."""
        source = frame_source(report, path)
        frame_s = source.frame_s if source else DEFAULT_FRAME_S
        duration = (report.get("media") or {}).get("duration_s")
        findings = report.get("findings") or []
        shots = plan_shots(findings, frame_s=frame_s, duration_s=duration, cap=MAX_THUMBNAILS)
        if not shots.times:
            return report
        try:
            if source is None:
                raise KickflowError("the report names no video stream to take pictures from")
            return self._taken(report, shots, source, job, work_dir)
        except STOP_SIGNALS:
            raise
        except Exception as exc:  # a missing picture must never cost the job its report
            reason = exc.message if isinstance(exc, KickflowError) else unexpected(exc)
            logs.warning("thumbnails_unavailable", job=job.id, error=reason)
            return unavailable(report, shots.wanted, f"thumbnails unavailable: {redact(reason)}")

    def _taken(
        self, report: dict[str, Any], shots: Shots, source: FrameSource, job: Job, work_dir: Path
    ) -> dict[str, Any]:
        limits = limits_for(self.settings)
        shots = shots.thinned(max_inputs(source, limits.max_memory_mb, len(shots.times)))
        self.control.report(START, "thumbnails", force=True)
        count = len(shots.times)
        pictures = extract_frames(
            find_ffmpeg(self.settings.ffmpeg).path,
            source,
            shots.times,
            work_dir,
            limits=limits,
            max_pixels=self.settings.max_frame_pixels,
            on_count=lambda done: self.control.report(
                START + (TAKEN - START) * min(1.0, done / count), "thumbnails"
            ),
        )
        if len(pictures) != count:
            raise KickflowError(f"FFmpeg returned {len(pictures)} of {count} pictures")
        names = self._stored(job, pictures)
        logs.info("thumbnails_stored", job=job.id, attempt=self.control.lease.attempt, count=count)
        return with_pictures(report, shots, names, pictures)

    def _stored(self, job: Job, pictures: list[bytes]) -> list[str]:
        lease = self.control.lease
        tag = artifacts.attempt_tag()
        self.control.report(TAKEN, "thumbnails", force=True)  # the lease is held before writing
        names = []
        for k, data in enumerate(pictures):
            name = artifacts.artifact_name(lease.attempt, tag, f"thumb-{k:02d}")
            self.files.put_artifact(job, lease, name, data)
            names.append(name)
            self.control.report(TAKEN + (STORED - TAKEN) * (k + 1) / len(pictures), "thumbnails")
        return names
