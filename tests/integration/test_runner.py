"""The FFmpeg runner against the real binary: progress, watchdog, aborts, memory limit."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from kickflow.errors import FfmpegFailed, FfmpegMemoryExceeded, FfmpegStalled, FfmpegTimedOut
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.runner import RunLimits, run_ffmpeg

REALTIME_SOURCE = [
    "-re",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=160x120:rate=25:d=60",
    "-f",
    "null",
    "-",
]


def _ffmpeg_children() -> set[int]:
    """PIDs of FFmpeg processes started by this test process."""
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if int(fields[1]) == me and b"ffmpeg" in cmd:
            found.add(int(entry))
    return found


def test_progress_is_reported_in_media_seconds() -> None:
    seen: list[float] = []
    result = run_ffmpeg(
        find_ffmpeg().path,
        ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:d=3", "-f", "null", "-"],
        limits=RunLimits(stall_seconds=30),
        on_progress=seen.append,
    )
    assert result.returncode == 0
    assert seen and seen == sorted(seen)
    assert result.processed_s == pytest.approx(3.0, abs=0.1)


def test_stopped_ffmpeg_is_killed_by_the_watchdog() -> None:
    stopped: list[int] = []

    def stop_after_first_progress(_seconds: float) -> None:
        if not stopped:
            (pid,) = _ffmpeg_children()
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)

    started = time.monotonic()
    with pytest.raises(FfmpegStalled, match="no progress for"):
        run_ffmpeg(
            find_ffmpeg().path,
            REALTIME_SOURCE,
            limits=RunLimits(stall_seconds=1.5, kill_grace_seconds=1.0),
            duration_s=60,
            on_progress=stop_after_first_progress,
        )
    assert time.monotonic() - started < 15
    assert _ffmpeg_children() == set(), "the stopped FFmpeg must be gone"


def test_wall_clock_limit() -> None:
    with pytest.raises(FfmpegTimedOut, match="limit"):
        run_ffmpeg(find_ffmpeg().path, REALTIME_SOURCE, limits=RunLimits(wall_seconds=1.0))
    assert _ffmpeg_children() == set()


def test_raising_from_progress_kills_ffmpeg_and_propagates() -> None:
    class LeaseLost(Exception):
        pass

    def fence(_seconds: float) -> None:
        raise LeaseLost

    with pytest.raises(LeaseLost):
        run_ffmpeg(find_ffmpeg().path, REALTIME_SOURCE, limits=RunLimits(), on_progress=fence)
    assert _ffmpeg_children() == set()


def test_memory_limit_is_reported_as_such() -> None:
    args = ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:d=2", "-f", "null", "-"]
    with pytest.raises(FfmpegMemoryExceeded, match=r"memory limit exceeded \(100 MB\)"):
        run_ffmpeg(find_ffmpeg().path, args, limits=RunLimits(max_memory_mb=100))


def test_ffmpeg_error_carries_the_tail_of_its_log() -> None:
    with pytest.raises(FfmpegFailed) as caught:
        run_ffmpeg(
            find_ffmpeg().path,
            ["-f", "lavfi", "-i", "nosuchsource", "-f", "null", "-"],
            limits=RunLimits(),
        )
    assert caught.value.returncode != 0
    assert "nosuchsource" in caught.value.stderr_tail


def test_logged_lines_are_stamped_between_the_progress_blocks_around_them(tmp_path: Path) -> None:
    # A stand-in binary writing FFmpeg's stderr as one stream: blocks and log lines in order.
    def block(us: int, state: str = "continue") -> str:
        return f"frame=1\\nspeed= 9.5x\\nout_time_us={us}\\nprogress={state}\\n"

    script = tmp_path / "ffmpeg"
    stderr = (
        block(2_000_000)
        + "[h264 @ 0x1] [error] error while decoding MB 1 2\\n"
        + block(4_000_000)
        + "[aac @ 0x2] [error] invalid band type\\n"
        + block(6_000_000, "end")
        + "[out#0 @ 0x3] [error] late line\\n"
    )
    script.write_text(f"#!/bin/sh\necho not-a-progress-line\nprintf '{stderr}' >&2\n")
    script.chmod(0o755)
    result = run_ffmpeg(str(script), [], limits=RunLimits(stall_seconds=30))
    stamped = [(line.at_s, line.text.split("] ")[-1]) for line in result.log_lines]
    assert stamped == [
        (3.0, "error while decoding MB 1 2"),
        (5.0, "invalid band type"),
        (6.0, "late line"),
    ]
    assert result.processed_s == 6.0
    assert "out_time" not in result.stderr_tail and "speed" not in result.stderr_tail
