"""Locating the FFmpeg binary once: ``KICKFLOW_FFMPEG``, then PATH, then the PyPI wheel."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kickflow.errors import FfmpegMissing

VERSION_TIMEOUT_S = 20


@dataclass(frozen=True)
class Binary:
    path: str
    source: str  # "KICKFLOW_FFMPEG", "PATH" or "imageio-ffmpeg wheel"


@lru_cache(maxsize=1)
def _wheel_ffmpeg() -> str | None:
    """The imageio-ffmpeg wheel's FFmpeg: the one executable in its ``binaries`` folder.

    Found by looking, not through ``imageio_ffmpeg.get_ffmpeg_exe()``, which costs an import
    of 20 ms and an ``ffmpeg -version`` run on every ``kickflow check``; the package's own
    lookup is the fallback when the folder does not hold exactly one binary.
    """
    spec = importlib.util.find_spec("imageio_ffmpeg")
    if spec is None:
        return None
    for folder in spec.submodule_search_locations or ():
        found = [p for p in (Path(folder) / "binaries").glob("ffmpeg-*") if os.access(p, os.X_OK)]
        if len(found) == 1:
            return str(found[0])
    import imageio_ffmpeg

    try:
        path: str = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None
    return path


def find_ffmpeg(override: str = "") -> Binary:
    """The FFmpeg binary to use, or ``FfmpegMissing`` with install guidance."""
    explicit = override or os.environ.get("KICKFLOW_FFMPEG", "")
    if explicit:
        resolved = shutil.which(explicit)
        if resolved is None:
            raise FfmpegMissing(f"KICKFLOW_FFMPEG is set to {explicit!r}, which is not executable.")
        return Binary(resolved, "KICKFLOW_FFMPEG")
    on_path = shutil.which("ffmpeg")
    if on_path:
        return Binary(on_path, "PATH")
    wheel = _wheel_ffmpeg()
    if wheel:
        return Binary(wheel, "imageio-ffmpeg wheel")
    raise FfmpegMissing()


def find_ffprobe(override: str = "") -> Binary | None:
    """FFprobe if one is configured or on PATH (optional: probing uses PyAV otherwise)."""
    explicit = override or os.environ.get("KICKFLOW_FFPROBE", "")
    if explicit:
        resolved = shutil.which(explicit)
        return Binary(resolved, "KICKFLOW_FFPROBE") if resolved else None
    on_path = shutil.which("ffprobe")
    return Binary(on_path, "PATH") if on_path else None


_started_listings: dict[tuple[str, str], subprocess.Popen[str]] = {}


def start_listing(path: str, flag: str) -> None:
    """Start ``ffmpeg -hide_banner FLAG`` now; ``_listing`` reads it later (start-up)."""
    if (path, flag) not in _started_listings:
        _started_listings[path, flag] = subprocess.Popen(
            [path, "-hide_banner", flag],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )


def _listing(path: str, flag: str) -> str:
    """What ``ffmpeg -hide_banner FLAG`` prints on stdout (from a started run if there is one)."""
    started = _started_listings.pop((path, flag), None)
    if started is not None:
        try:
            return started.communicate(timeout=VERSION_TIMEOUT_S)[0]
        except subprocess.TimeoutExpired:
            started.kill()
            started.communicate()
            raise
    return subprocess.run(
        [path, "-hide_banner", flag],
        capture_output=True,
        text=True,
        timeout=VERSION_TIMEOUT_S,
        check=False,
    ).stdout


@lru_cache(maxsize=8)
def binary_version(path: str) -> str:
    """The version string FFmpeg reports for itself (``n9.0.2-…``, ``5.1.9-0+deb12u1``)."""
    words = _listing(path, "-version").split()
    return words[2] if len(words) > 2 and words[1] == "version" else "unknown"


@lru_cache(maxsize=8)
def available_filters(path: str) -> frozenset[str]:
    """Names of the filters this FFmpeg build has (cropdetect is missing from LGPL builds)."""
    names = set()
    for line in _listing(path, "-filters").splitlines():
        parts = line.split()
        if len(parts) >= 3 and "->" in parts[2]:
            names.add(parts[1])
    return frozenset(names)
