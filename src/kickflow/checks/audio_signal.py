"""Audio checks on what the signal carries: DC offset, and channel layouts the file leaves open."""

from __future__ import annotations

import math

from kickflow.checks.base import Context, Finding, Outcome, plural, result, skip
from kickflow.checks.tracks import TrackView, per_track
from kickflow.media.model import AudioStream

# FFmpeg's default layout for a channel count: what its filters assume when a file says nothing.
ASSUMED_LAYOUT = {3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def check_dc_offset(ctx: Context) -> Outcome:
    """Mean DC offset of every channel within the profile's maximum."""
    if not ctx.m.media.audio:
        return skip("No audio stream")
    return per_track(ctx, _track_dc_offset, no_audio=skip("The audio was not analysed"))


def _track_dc_offset(ctx: Context, view: TrackView) -> Outcome:
    audio = view.audio
    if audio is None or not audio.dc_offset:
        return skip("DC offset was not measured")
    limit = ctx.profile.dc_offset.max_abs
    found: list[Finding] = [
        ctx.finding(view.says(f"Channel {c}: DC offset {_offset(dc)}; max {_offset(limit)}"))
        for c, dc in enumerate(audio.dc_offset, 1)
        if abs(dc) > limit
    ]
    worst = max(abs(dc) for dc in audio.dc_offset)
    return result(found, f"DC offset at most {_offset(worst)} (max {_offset(limit)})")


def _offset(value: float) -> str:
    """``0.0989 (9.89 % of full scale, −20.1 dBFS)``."""
    level = f"{20 * math.log10(abs(value)):.1f} dBFS" if value else "−inf dBFS"
    return f"{value:.4g} ({abs(value):.2%} of full scale, {level.replace('-', '−')})"


def declared_layout(ctx: Context, position: int) -> str | None:
    """The layout the profile declares for audio track ``position`` (1-based), if any."""
    tracks = ctx.profile.audio.tracks
    if position <= len(tracks) and tracks[position - 1].layout:
        return tracks[position - 1].layout
    return ctx.profile.audio.channel_layout


def unmasked(stream: AudioStream) -> bool:
    """The file does not say which speaker each channel feeds (e.g. a WAV with no mask)."""
    return stream.channels > 2 and (stream.layout is None or stream.layout.endswith("channels"))


def layout_problems(ctx: Context) -> list[str]:
    """Multichannel streams whose layout neither the file nor the profile declares."""
    problems = []
    for position, stream in enumerate(ctx.m.media.audio, 1):
        if not unmasked(stream) or declared_layout(ctx, position):
            continue
        assumed = ASSUMED_LAYOUT.get(stream.channels)
        guess = f"assumed {assumed}" if assumed else "no speaker positions assumed"
        problems.append(
            f"Audio stream {stream.index}: {plural(stream.channels, 'channel')}, "
            f"layout not declared; {guess} (set audio.channel_layout in the profile)"
        )
    return problems
