"""Parsing FFmpeg's ``metadata=print`` output and turning detector keys into segments."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kickflow.media.model import Segment


@dataclass(frozen=True)
class MetaFrame:
    """The metadata FFmpeg printed for one frame."""

    t: float
    values: dict[str, float | str]

    def number(self, key: str) -> float | None:
        """A key's value as a float; None when absent, not a number, NaN or +inf."""
        value = self.values.get(key)
        if not isinstance(value, float):
            return None
        return value if math.isfinite(value) or value == -math.inf else None

    def text(self, key: str) -> str | None:
        """A key's value as FFmpeg printed it, for keys whose values are words."""
        value = self.values.get(key)
        return value if isinstance(value, str) else None


def parse_metadata_print(
    lines: str | Iterable[str], keep: tuple[str, ...] = ("",)
) -> list[MetaFrame]:
    """Frames from ``frame:N pts:P pts_time:T`` headers followed by ``key=value`` lines.

    Only keys starting with one of ``keep`` are stored: an hour of video prints millions of
    keys, and holding the unused ones would make memory grow with the file's length.
    """
    frames: list[MetaFrame] = []
    values: dict[str, float | str] | None = None
    for line in lines.splitlines() if isinstance(lines, str) else lines:
        if line.startswith("frame:"):
            values = {}
            frames.append(MetaFrame(_pts_time(line), values))
        elif values is not None and line.startswith(keep):
            key, sep, value = line.partition("=")
            if sep:
                values[sys.intern(key.strip())] = _value(value.strip())
    return frames


def _value(raw: str) -> float | str:
    """Numbers as floats (a float is smaller than its text), words as interned strings."""
    try:
        return float(raw)
    except ValueError:
        return sys.intern(raw)


def _pts_time(header: str) -> float:
    for word in header.split():
        if word.startswith("pts_time:"):
            try:
                return float(word.removeprefix("pts_time:"))
            except ValueError:
                return 0.0
    return 0.0


def detector_segments(
    frames: Iterable[MetaFrame],
    start_key: str,
    end_key: str,
    end_of_stream: float,
    channel: int | None = None,
) -> list[Segment]:
    """Segments from a detector's start/end keys; the values, not the frame times, are true.

    A segment still open when the stream ends is closed at ``end_of_stream``.
    """
    segments: list[Segment] = []
    start: float | None = None
    for frame in frames:
        began = frame.number(start_key)
        ended = frame.number(end_key)
        if began is not None and start is None:
            start = began
        if ended is not None and start is not None:
            segments.append(Segment(start, max(start, ended), channel))
            start = None
    if start is not None:
        segments.append(Segment(start, max(start, end_of_stream), channel))
    return segments


def merge_times(times: Sequence[float], step: float, max_gap: float) -> list[Segment]:
    """Runs of sample times (each covering ``step`` seconds) joined across gaps ≤ max_gap."""
    segments: list[Segment] = []
    for t in sorted(times):
        if segments and t - segments[-1].end_s <= max_gap:
            last = segments[-1]
            segments[-1] = Segment(last.start_s, t + step, last.channel)
        else:
            segments.append(Segment(t, t + step))
    return segments


def subtract(
    segments: Iterable[Segment], holes: Sequence[Segment], min_s: float = 0.1
) -> list[Segment]:
    """The parts of each segment not covered by any hole (slivers under ``min_s`` dropped)."""
    result: list[Segment] = []
    for seg in segments:
        pieces = [seg]
        for hole in holes:
            pieces = [p for piece in pieces for p in _cut(piece, hole)]
        result.extend(p for p in pieces if p.duration_s >= min_s)
    return result


def _cut(piece: Segment, hole: Segment) -> list[Segment]:
    if hole.end_s <= piece.start_s or hole.start_s >= piece.end_s:
        return [piece]
    parts = []
    if hole.start_s > piece.start_s:
        parts.append(Segment(piece.start_s, hole.start_s, piece.channel))
    if hole.end_s < piece.end_s:
        parts.append(Segment(hole.end_s, piece.end_s, piece.channel))
    return parts


def linear_to_db(value: float | None) -> float | None:
    """Amplitude ratio to dB (ebur128 reports peaks as linear values)."""
    if value is None or value <= 0:
        return None
    return 20.0 * math.log10(value)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
