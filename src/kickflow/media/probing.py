"""The probe as a child process, under the same kind of limits as FFmpeg's decode.

Opening a file decodes a frame or two; a 780 KB PNG of 16000 × 16000 pixels made the worker
itself grow by 843 MB when that happened in-process. So the probe runs in a child with an
address-space limit and a time limit, and its answer comes back as JSON. Then the resource caps
(picture size, channels, streams, duration against size) are checked before any decode.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kickflow import errors
from kickflow.config import Settings
from kickflow.errors import InputError, NotMedia, ResourceLimitExceeded
from kickflow.media import probe_process
from kickflow.media.model import MediaInfo, from_json

log = logging.getLogger("kickflow.probe")
STDERR_LOG_CHARS = 2000


def _setting(name: str) -> Any:
    """The default of a setting: the one place the numbers are written."""
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class ProbeLimits:
    """What the probe may cost and what a file may claim to be before it is decoded."""

    allow_raw_pcm: bool = False
    max_frame_pixels: int = _setting("max_frame_pixels")
    max_channels: int = _setting("max_channels")
    max_streams: int = _setting("max_streams")
    max_duration_s: float = _setting("max_duration_seconds")
    min_bytes_per_s: float = _setting("min_bytes_per_second")
    max_memory_mb: int = _setting("probe_max_memory_mb")
    timeout_s: float = _setting("probe_timeout_seconds")


def probe(path: Path, size_bytes: int, limits: ProbeLimits) -> MediaInfo:
    """Probe ``path`` in a child process, then refuse it if it is beyond the caps."""
    media = _run_child(path, size_bytes, limits)
    check_caps(media, limits)
    return media


def check_caps(media: MediaInfo, limits: ProbeLimits) -> None:
    """Raise ResourceLimitExceeded with one sentence when the file claims too much."""
    problem = cap_problem(media, limits)
    if problem:
        raise ResourceLimitExceeded(f"refused: {media.path} {problem}")


def cap_problem(media: MediaInfo, limits: ProbeLimits) -> str | None:
    """What is beyond the limits, as the end of a sentence; None when nothing is."""
    streams = len(media.video) + len(media.audio) + media.subtitle_streams + media.data_streams
    if streams > limits.max_streams:
        return f"has {streams} streams (the limit is {limits.max_streams})"
    for v in media.video:
        if v.width <= 0 or v.height <= 0:  # decoders refuse pictures over max_pixels
            return (
                f"has pictures over the limit of {limits.max_frame_pixels:,} pixels "
                "(or of a size that cannot be read)"
            )
        if v.width * v.height > limits.max_frame_pixels:
            return (
                f"has {v.width}×{v.height} pictures, over the limit of "
                f"{limits.max_frame_pixels:,} pixels"
            )
    for a in media.audio:
        if a.channels > limits.max_channels:
            return (
                f"has an audio stream of {a.channels} channels (the limit is {limits.max_channels})"
            )
    return _duration_problem(media, limits)


def _duration_problem(media: MediaInfo, limits: ProbeLimits) -> str | None:
    duration = media.duration_s or 0.0
    if duration > limits.max_duration_s:
        return (
            f"claims to last {duration / 3600:.1f} h, over the limit of "
            f"{limits.max_duration_s / 3600:.1f} h"
        )
    if duration > 60 and media.size_bytes / duration < limits.min_bytes_per_s:
        return (
            f"claims to last {duration:.0f} s in only {media.size_bytes} bytes, "
            "which no real programme does"
        )
    return None


def _run_child(path: Path, size_bytes: int, limits: ProbeLimits) -> MediaInfo:
    request = {
        "path": str(path.resolve()),
        "size_bytes": size_bytes,
        "allow_raw_pcm": limits.allow_raw_pcm,
        "max_pixels": limits.max_frame_pixels,
        "max_memory_mb": limits.max_memory_mb,
    }
    child = probe_process.take() or probe_process.spawn()
    try:
        done = probe_process.exchange(child, json.dumps(request), limits.timeout_s)
    except subprocess.TimeoutExpired:
        raise ResourceLimitExceeded(
            f"refused: probing {path.name} took longer than {limits.timeout_s:.0f} s"
        ) from None
    return _answer(path, done, limits)


def _answer(path: Path, done: subprocess.CompletedProcess[str], limits: ProbeLimits) -> MediaInfo:
    try:
        reply: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        reply = {}
    if "media" in reply:
        media: MediaInfo = from_json(MediaInfo, reply["media"])
        return media
    if "error" in reply:
        raise _error(reply["error"])
    log.warning("probe of %s failed (exit %s): %s", path, done.returncode,
                done.stderr[-STDERR_LOG_CHARS:])  # fmt: skip
    if done.returncode < 0 or "MemoryError" in done.stderr:
        raise ResourceLimitExceeded(
            f"refused: probing {path.name} needed more than {limits.max_memory_mb} MB of memory"
        )
    raise NotMedia(f"{path.name} could not be probed as media.")


def _error(data: dict[str, str]) -> InputError:
    """The child's error as the same typed exception (input errors only)."""
    cls = getattr(errors, str(data.get("class", "")), None)
    message = str(data.get("message", ""))
    if isinstance(cls, type) and issubclass(cls, InputError):
        return cls(message)
    return NotMedia(message or "the file could not be probed as media.")
