"""SMPTE timecode: parsing, drop-frame counting, and findings placed at the source's timecode.

Pure code. A timecode is a *label* on a frame; the label counts ``nominal`` frames per label
second (24 at 23.976, 30 at 29.97). Drop-frame (29.97/59.94 only, written with ``;``) skips the
labels ``;00``–``;01`` (``;00``–``;03`` at 59.94) at the start of every minute except every tenth,
so that the labels keep up with the clock; no frame is dropped, only labels. Seconds come from
the decoder's timestamps and are turned into frames at the *real* rate (30000/1001 …).

Audio-only files have no frames: a start they carry (a BWF time reference) is a millisecond
clock, ``HH:MM:SS.mmm``, and their findings are placed on that clock (:data:`CLOCK`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from kickflow.errors import TimecodeInvalid

__all__ = [
    "CLOCK",
    "SourceTimecode",
    "TimecodeRate",
    "clock_text",
    "frame_at",
    "frames_from_timecode",
    "parse_timecode_text",
    "rate_for",
    "retime_timecode",
    "source_timecode",
    "timecode_from_frames",
]

Origin = Literal["container", "override", "default"]
HOURS_PER_DAY = 24
TIMECODE_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})\.(\d{3})$")


@dataclass(frozen=True)
class TimecodeRate:
    """The real frame rate, the frames per timecode second, and whether labels are dropped."""

    fps: Fraction
    nominal: int
    drop_frame: bool
    clock: bool = False  # a millisecond clock (audio-only files), written HH:MM:SS.mmm

    @property
    def dropped_per_minute(self) -> int:
        """Labels skipped at each non-tenth minute: 2 at 29.97, 4 at 59.94, 0 without DF."""
        return self.nominal // 15 if self.drop_frame else 0

    @property
    def frames_per_minute(self) -> int:
        """Frames in a minute whose first labels are dropped (every minute but the tenth)."""
        return self.nominal * 60 - self.dropped_per_minute

    @property
    def frames_per_ten_minutes(self) -> int:
        return self.nominal * 600 - 9 * self.dropped_per_minute

    @property
    def frames_per_day(self) -> int:
        return self.frames_per_ten_minutes * 6 * HOURS_PER_DAY

    @property
    def label(self) -> str:
        """How an operator names it: ``29.97 DF``, ``25``, ``23.976`` (``clock`` for audio)."""
        if self.clock:
            return "clock"
        value = f"{float(self.fps):.3f}".rstrip("0").rstrip(".")
        return f"{value} DF" if self.drop_frame else value


def rate_for(fps: float | Fraction, drop_frame: bool | None = None) -> TimecodeRate:
    """The timecode rate of a video rate; ``drop_frame=None`` means DF wherever DF exists.

    NTSC-family rates (N×1000/1001) are recognised from their rounded float forms (29.97,
    23.976, 59.94 …). Drop-frame is only defined at 29.97 and 59.94; elsewhere it is refused.
    """
    if fps <= 0 or not math.isfinite(float(fps)):
        raise TimecodeInvalid(f"A timecode needs a positive frame rate, not {fps}.")
    nominal = max(1, round(float(fps)))
    ntsc = Fraction(nominal * 1000, 1001)
    exact = ntsc if abs(float(fps) - float(ntsc)) < 0.005 else Fraction(fps).limit_denominator(1001)
    can_drop = exact == ntsc and nominal in (30, 60)
    if drop_frame and not can_drop:
        raise TimecodeInvalid(
            f"Drop-frame timecode (with ';') exists only at 29.97 and 59.94 fps, "
            f"not at {float(exact):.3f} fps."
        )
    return TimecodeRate(exact, nominal, can_drop if drop_frame is None else drop_frame)


def parse_timecode_text(text: str) -> tuple[tuple[int, int, int, int], bool]:
    """``HH:MM:SS:FF`` / ``HH:MM:SS;FF`` into its four fields and whether it is drop-frame.

    Checks the syntax and the ranges that do not depend on the frame rate.
    """
    match = TIMECODE_RE.match(text.strip())
    if not match:
        raise TimecodeInvalid(
            f"'{text}' is not a timecode: write HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame."
        )
    hh, mm, ss, sep, ff = match.groups()
    fields = (int(hh), int(mm), int(ss), int(ff))
    if fields[0] >= HOURS_PER_DAY or fields[1] >= 60 or fields[2] >= 60:
        raise TimecodeInvalid(
            f"'{text}' is not a timecode: hours go to 23, minutes and seconds to 59."
        )
    return fields, sep in ";.,"  # FFmpeg and some writers use '.' or ',' for drop-frame too


def frames_from_timecode(text: str, rate: TimecodeRate) -> int:
    """The frame count since 00:00:00:00 that ``text`` labels at ``rate``."""
    (hh, mm, ss, ff), _ = parse_timecode_text(text)
    if ff >= rate.nominal:
        raise TimecodeInvalid(
            f"'{text}' has frame {ff}, but {rate.label} fps counts 0–{rate.nominal - 1}."
        )
    drop = rate.dropped_per_minute
    if drop and ss == 0 and ff < drop and mm % 10:
        raise TimecodeInvalid(
            f"'{text}' does not exist in drop-frame: labels ;00–;{drop - 1:02d} are skipped."
        )
    minutes = 60 * hh + mm
    labels = ((minutes * 60) + ss) * rate.nominal + ff
    return labels - drop * (minutes - minutes // 10)


def timecode_from_frames(frame: int, rate: TimecodeRate) -> str:
    """The label of frame ``frame`` (counted from 00:00:00:00, wrapping at 24 hours)."""
    frame %= rate.frames_per_day
    drop = rate.dropped_per_minute
    if drop:
        tens, rest = divmod(frame, rate.frames_per_ten_minutes)
        # The first minute of each ten keeps all its labels; each later one lost ``drop``.
        skipped = 0 if rest < drop else drop * ((rest - drop) // rate.frames_per_minute)
        frame += 9 * drop * tens + skipped
    seconds, ff = divmod(frame, rate.nominal)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    if rate.clock:
        return f"{hh:02d}:{mm:02d}:{ss:02d}.{ff:03d}"
    return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if rate.drop_frame else ':'}{ff:02d}"


# Milliseconds counted as frames: an audio-only file's start and findings on its own clock.
CLOCK = TimecodeRate(Fraction(1000), 1000, False, clock=True)


def clock_text(seconds: float) -> str:
    """``HH:MM:SS.mmm`` of a time of day in seconds (wrapping at 24 hours)."""
    return timecode_from_frames(round(max(0.0, seconds) * 1000), CLOCK)


def retime_timecode(text: str, source: TimecodeRate, fps: float) -> str:
    """A start timecode counted at ``source`` (a ``tmcd`` track's rate), relabelled at ``fps``.

    When one rate counts a whole multiple of the other's frames per second (25 → 50,
    29.97 DF → 59.94 DF) the frame count is scaled exactly; otherwise it goes through seconds.
    """
    target = rate_for(fps, None if source.drop_frame else False)
    frames = frames_from_timecode(text, source)
    if target.nominal % source.nominal == 0:
        scaled = frames * (target.nominal // source.nominal)
    elif source.nominal % target.nominal == 0:
        scaled = frames // (source.nominal // target.nominal)
    else:
        scaled = round(frames / source.fps * target.fps)
    return timecode_from_frames(scaled, target)


def frame_at(seconds: float, fps: Fraction) -> int:
    """The frame whose start is nearest to ``seconds`` after the first frame (frame k at k/fps).

    Nearest, not the one on screen: at the default 5 fps sampling a video finding's time is the
    sample's slot (2.0 s), and FFmpeg's ``fps`` filter fills a slot with the frame nearest to it
    (frame 60 at 2.002 s, not frame 59); frame-exact times (every frame analysed) are frame
    starts, where both agree. For audio findings it is the frame at most half a frame away.
    """
    return math.floor(max(0.0, seconds) * fps + Fraction(1, 2))


@dataclass(frozen=True)
class SourceTimecode:
    """The source's start timecode at its frame rate: where a time in the file is on the edit."""

    rate: TimecodeRate
    start_frame: int
    origin: Origin

    @property
    def start(self) -> str:
        return timecode_from_frames(self.start_frame, self.rate)

    def at(self, seconds: float) -> str:
        """The source timecode of the frame shown ``seconds`` after the file's start."""
        return timecode_from_frames(self.start_frame + frame_at(seconds, self.rate.fps), self.rate)


def source_timecode(
    fps: float | None, container_tag: str | None, override: str | None = None
) -> SourceTimecode | None:
    """The start timecode: the override, else the container's, else 00:00:00:00 (DF at 29.97).

    None without a video frame rate (frames mean nothing there). A bad override raises
    :class:`TimecodeInvalid`; a container tag that does not fit the rate is ignored, because a
    file's odd metadata must not stop its QC.
    """
    if not fps or fps < 1:
        return _clock(container_tag, override)
    if override is not None:
        return _from_text(fps, override, "override")
    if container_tag:
        try:
            return _from_text(fps, container_tag, "container", lenient=True)
        except TimecodeInvalid:
            pass
    return SourceTimecode(rate_for(fps), 0, "default")


def _clock(container_tag: str | None, override: str | None) -> SourceTimecode | None:
    """An audio-only file's start on the millisecond clock: the override, else its tag.

    Only clock values (``HH:MM:SS.mmm``) place an audio file: a frame count needs a frame rate.
    """
    given: tuple[tuple[str | None, Origin], ...] = (
        (override, "override"),
        (container_tag, "container"),
    )
    for text, origin in given:
        match = CLOCK_RE.match((text or "").strip())
        if match:
            hh, mm, ss, ms = (int(g) for g in match.groups())
            if hh < HOURS_PER_DAY and mm < 60 and ss < 60:
                start = ((hh * 60 + mm) * 60 + ss) * 1000 + ms
                return SourceTimecode(CLOCK, start, origin)
    return None


def _from_text(fps: float, text: str, origin: Origin, *, lenient: bool = False) -> SourceTimecode:
    _, drop = parse_timecode_text(text)
    if lenient and drop:  # a ';' tag on a 25 fps file: read it as non-drop
        drop = rate_for(fps).drop_frame
    rate = rate_for(fps, drop)
    return SourceTimecode(rate, frames_from_timecode(text, rate), origin)
