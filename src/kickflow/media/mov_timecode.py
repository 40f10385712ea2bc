"""The rate of a MOV/MP4 ``tmcd`` (timecode) track, read from its sample description.

FFmpeg writes the track's start as a ``timecode`` tag counted in the *timecode track's* frames,
which need not be the video's (a 50p picture with a 25 fps timecode, 59.94p with 29.97 DF);
PyAV does not expose that rate for data streams, so the few bytes that hold it are read here:
``moov/trak/mdia/minf/stbl/stsd`` → a ``tmcd`` entry: flags, time scale, frame duration and
frames per second (QuickTime File Format, "Timecode sample description").

Reading is bounded (boxes visited, bytes read) and never raises: a file whose boxes do not add
up simply has no readable timecode rate.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

from kickflow.errors import TimecodeInvalid
from kickflow.media.timecode import TimecodeRate, rate_for

MAX_BOXES = 4096  # children looked at in one container box
PATH = (b"mdia", b"minf", b"stbl", b"stsd")
DROP_FRAME_FLAG = 0x0001
_ENTRY = struct.Struct(">I4s6xH4xIIIB")  # size, format, reserved, dref, reserved, flags…


@dataclass(frozen=True)
class TmcdRate:
    """A timecode track's counting: frames per timecode second and its real rate."""

    time_scale: int
    frame_duration: int
    frames_per_second: int
    drop_frame: bool

    @property
    def rate(self) -> TimecodeRate:
        """As a :class:`TimecodeRate` (drop-frame only where it exists)."""
        fps = Fraction(self.time_scale, self.frame_duration)
        try:
            return rate_for(fps, self.drop_frame)
        except TimecodeInvalid:  # a drop-frame flag at a rate that has none: count non-drop
            return rate_for(fps, False)


def _boxes(f: BinaryIO, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes between ``start`` and ``end``."""
    found: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end and len(found) < MAX_BOXES:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            break
        size, kind = struct.unpack(">I4s", head[:8])
        body = pos + 8
        if size == 1 and len(head) == 16:
            size, body = struct.unpack(">Q", head[8:16])[0], pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            break
        found.append((kind, body, pos + size))
        pos += size
    return found


def _child(f: BinaryIO, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(f, start, end) if k == kind), None)


def _entry(f: BinaryIO, start: int, end: int) -> TmcdRate | None:
    """The first ``stsd`` entry when it is a ``tmcd`` one."""
    f.seek(start + 8)  # version, flags, entry count
    data = f.read(_ENTRY.size)
    if len(data) < _ENTRY.size or start + 8 + _ENTRY.size > end:
        return None
    _, kind, _, flags, scale, duration, frames = _ENTRY.unpack(data)
    if kind != b"tmcd" or scale <= 0 or duration <= 0 or frames <= 0:
        return None
    return TmcdRate(scale, duration, frames, bool(flags & DROP_FRAME_FLAG))


def _track(f: BinaryIO, start: int, end: int) -> TmcdRate | None:
    span: tuple[int, int] | None = (start, end)
    for kind in PATH:
        span = _child(f, *span, kind) if span else None
    return _entry(f, *span) if span else None


def read_tmcd(path: Path) -> TmcdRate | None:
    """The first ``tmcd`` track's rate, or None (no such track, or boxes that do not add up)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            moov = _child(f, 0, size, b"moov")
            if moov is None:
                return None
            for kind, s, e in _boxes(f, *moov):
                found = _track(f, s, e) if kind == b"trak" else None
                if found is not None:
                    return found
    except (OSError, struct.error, ValueError, ZeroDivisionError):
        return None
    return None
