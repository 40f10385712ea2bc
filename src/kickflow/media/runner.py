"""The one way FFmpeg is run: argv lists, own process group, progress, watchdog, limits.

FFmpeg writes ``-progress`` blocks into its log stream (stderr), so that each logged line
falls between the two blocks around it as FFmpeg wrote them, however late this process reads
(two pipes would be read in no reliable order on a busy machine). Every block whose
``out_time`` moved is progress and is handed to ``on_progress`` (seconds of media processed).
The watchdog kills the whole process group (SIGTERM, then SIGKILL after a grace period) when
``out_time`` has not moved for ``stall_seconds`` or the wall-clock limit passes. If
``on_progress`` raises, FFmpeg is killed the same way and the exception propagates: that is how
the job system fences and cancels.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import resource
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from kickflow.errors import FfmpegFailed, FfmpegMemoryExceeded, FfmpegStalled, FfmpegTimedOut

log = logging.getLogger("kickflow.ffmpeg")

ProgressCallback = Callable[[float], None]
STDERR_TAIL_LINES = 40
POLL_SECONDS = 0.25
# Progress blocks come this often (wall clock): fine enough to stamp decode errors with the
# media time they occurred at, even on a run many times faster than real time; the callback
# is throttled to CALLBACK_PERIOD_S.
STATS_PERIOD_S = 0.05
# A line of a progress block (``speed= 12x`` and ``bitrate=  1.2kbits/s`` pad their values);
# logged lines start with ``[`` (the level or the component).
_PROGRESS_LINE = re.compile(r"(?:[a-z_]+|stream_\d+_\d+_q)=")
CALLBACK_PERIOD_S = 0.5
_MEMORY_MARKERS = ("Cannot allocate memory", "Out of memory", "std::bad_alloc")


@dataclass(frozen=True)
class RunLimits:
    stall_seconds: float = 120.0
    wall_seconds: float = 0.0  # 0 = no limit
    max_memory_mb: int = 0  # 0 = no limit
    kill_grace_seconds: float = 5.0


@dataclass(frozen=True)
class StampedLine:
    """A line FFmpeg logged, with the media time it had reached when the line arrived."""

    at_s: float
    text: str


@dataclass(frozen=True)
class RunResult:
    returncode: int
    elapsed_s: float
    processed_s: float
    stderr_tail: str
    log_lines: tuple[StampedLine, ...] = field(default=())


def parse_progress_block(lines: list[str]) -> dict[str, str]:
    """``key=value`` lines of one ``-progress`` block as a dict."""
    block: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            block[key.strip()] = value.strip()
    return block


def processed_seconds(block: dict[str, str]) -> float | None:
    """Media seconds processed according to a progress block (None when FFmpeg says N/A)."""
    raw = block.get("out_time_us") or block.get("out_time_ms")
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return None if value is None or value < 0 else value / 1_000_000


def limit_address_space(max_memory_mb: int) -> None:
    """Cap this process's address space at ``max_memory_mb`` (0 or less: no cap)."""
    if max_memory_mb > 0:
        limit = max_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def limit_memory(max_memory_mb: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that caps the child's address space (None: no limit)."""
    if max_memory_mb <= 0:
        return None

    def apply() -> None:  # runs in the child between fork and exec
        limit_address_space(max_memory_mb)

    return apply


def _pump(stream: IO[str], sink: queue.Queue[str | None]) -> None:
    try:
        for line in stream:
            sink.put(line.rstrip("\n"))
    except (ValueError, OSError):  # closed under it: the run was given up (run_ffmpeg)
        pass
    finally:
        sink.put(None)


class _Watch:
    """State of one FFmpeg run, advanced by the lines it writes."""

    def __init__(self, limits: RunLimits, duration_s: float | None) -> None:
        self.limits = limits
        self.duration_s = duration_s
        self.started = time.monotonic()
        self.last_advance = self.started
        self.last_callback = 0.0
        self.processed = 0.0
        self.block: list[str] = []
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.log_lines: list[StampedLine] = []
        self._unstamped: list[str] = []

    def on_line(self, line: str, on_progress: ProgressCallback | None) -> None:
        if _PROGRESS_LINE.match(line):
            self.on_progress_line(line, on_progress)
        else:
            self.tail.append(line)
            self._unstamped.append(line)

    def on_progress_line(self, line: str, on_progress: ProgressCallback | None) -> None:
        self.block.append(line)
        if not line.startswith("progress="):
            return
        seconds = processed_seconds(parse_progress_block(self.block))
        self.block = []
        if seconds is not None and seconds > self.processed:
            self.stamp_pending(seconds)
            self.processed = seconds
            self.last_advance = now = time.monotonic()
            if on_progress is not None and now - self.last_callback >= CALLBACK_PERIOD_S:
                self.last_callback = now
                on_progress(seconds)

    def stamp_pending(self, reached: float) -> None:
        """Lines logged since the last progress block: stamped halfway to this one.

        FFmpeg logged the line somewhere between the two blocks; its output lags the decoder
        (frame threads, filter buffers, interleaving), so neither end alone is a fair estimate.
        """
        at = (self.processed + reached) / 2
        self.log_lines.extend(StampedLine(at, line) for line in self._unstamped)
        self._unstamped.clear()

    def percent(self) -> str:
        if not self.duration_s:
            return f"{self.processed:.0f} s"
        return f"{min(100.0, 100.0 * self.processed / self.duration_s):.0f}%"

    def overdue(self) -> Exception | None:
        now = time.monotonic()
        stalled_for = now - self.last_advance
        if stalled_for >= self.limits.stall_seconds:
            return FfmpegStalled(
                f"FFmpeg made no progress for {stalled_for:.0f} s at {self.percent()} — killed"
            )
        if self.limits.wall_seconds and now - self.started >= self.limits.wall_seconds:
            return FfmpegTimedOut(
                f"FFmpeg ran longer than the {self.limits.wall_seconds:.0f} s limit "
                f"at {self.percent()} — killed"
            )
        return None


def kill_group(proc: subprocess.Popen[str], grace_seconds: float) -> None:
    """SIGTERM the process group (waking it if stopped), then SIGKILL after the grace period."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGCONT):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
    try:
        proc.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait()


def ffmpeg_argv(binary: str, args: list[str]) -> list[str]:
    """The full command: quiet banner, no stdin, machine-readable progress, errors only."""
    return [
        binary,
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "level+error",
        "-progress",
        "pipe:2",
        "-stats_period",
        str(STATS_PERIOD_S),
        *args,
    ]


def run_ffmpeg(
    binary: str,
    args: list[str],
    *,
    limits: RunLimits,
    duration_s: float | None = None,
    on_progress: ProgressCallback | None = None,
    pass_fds: Sequence[int] = (),
) -> RunResult:
    """Run FFmpeg to the end under the watchdog; raise a typed error when it fails.

    ``pass_fds`` (write ends of pipes FFmpeg writes raw outputs to, as ``pipe:N``) are handed
    over: closed here once the child has them, so that their readers see the end of the data
    when FFmpeg exits, however it exits.
    """
    argv = ffmpeg_argv(binary, args)
    log.debug("running %s", shlex.join(argv))
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,
            pass_fds=tuple(pass_fds),
            preexec_fn=limit_memory(limits.max_memory_mb),  # noqa: PLW1509 - only setrlimit
        )
    finally:
        for fd in pass_fds:
            os.close(fd)
    watch = _Watch(limits, duration_s)
    try:
        _follow(proc, watch, on_progress)
    except BaseException:
        kill_group(proc, limits.kill_grace_seconds)
        raise
    finally:
        if proc.stderr is not None:
            proc.stderr.close()
    return _result(proc.wait(), watch)


def _follow(
    proc: subprocess.Popen[str], watch: _Watch, on_progress: ProgressCallback | None
) -> None:
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=_pump, args=(proc.stderr, lines), daemon=True).start()
    while True:
        problem = watch.overdue()
        if problem is not None:
            raise problem
        try:
            line = lines.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        if line is None:
            return
        watch.on_line(line, on_progress)


def _result(returncode: int, watch: _Watch) -> RunResult:
    tail = "\n".join(watch.tail)
    if returncode != 0:
        if watch.limits.max_memory_mb and (
            any(marker in tail for marker in _MEMORY_MARKERS) or returncode < 0
        ):
            raise FfmpegMemoryExceeded(
                f"memory limit exceeded ({watch.limits.max_memory_mb} MB) while analysing"
                " — not retried"
            )
        raise FfmpegFailed(returncode, tail)
    watch.stamp_pending(watch.processed)
    return RunResult(
        returncode=returncode,
        elapsed_s=time.monotonic() - watch.started,
        processed_s=watch.processed,
        stderr_tail=tail,
        log_lines=tuple(watch.log_lines),
    )
