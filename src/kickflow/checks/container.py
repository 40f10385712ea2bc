"""Checks on the file as a whole: which streams it has, decode errors, A/V duration."""

from __future__ import annotations

from kickflow.checks.base import (
    Context,
    Finding,
    Outcome,
    capped,
    plural,
    result,
    seconds,
    skip,
)
from kickflow.checks.segments import merge
from kickflow.media.model import AudioStream, VideoStream

MAX_LISTED = 20
DECODE_ERROR_GAP_S = 1.0  # errors closer than this are one damaged region


def check_streams(ctx: Context) -> Outcome:
    """Required streams present, container format allowed."""
    media, spec = ctx.m.media, ctx.profile
    found: list[Finding] = []
    if not media.video and not media.audio:
        found.append(ctx.finding("The file has no audio or video stream"))
    elif spec.video.required and not media.video:
        found.append(ctx.finding(f"No video stream, but profile {spec.name} requires video"))
    if len(media.video) > 1:
        found.append(ctx.finding(f"{len(media.video)} video streams", severity="info"))
    allowed = spec.container.formats
    names = media.format_name.split(",")
    if allowed and not set(names) & set(allowed):
        found.append(
            ctx.finding(f"Container {media.format_name} is not one of {', '.join(allowed)}")
        )
    streams = (
        f"{plural(len(media.video), 'video stream')}, {plural(len(media.audio), 'audio stream')}"
    )
    ok = f"{streams} in {media.format_name}"
    return result(found, ok)


def check_decode_errors(ctx: Context) -> Outcome:
    """Decode errors, grouped into damaged regions."""
    errors = ctx.m.decode_errors
    if errors.count == 0:
        return result([], "No decode errors")
    sample = f" (FFmpeg: {errors.samples[0]})" if errors.samples else ""
    if not errors.times_s:
        return result([ctx.finding(f"{plural(errors.count, 'decode error')}{sample}")], "")
    regions = merge(sorted(errors.times_s), DECODE_ERROR_GAP_S)
    found = [
        ctx.finding(_region_message(errors.times_s, r.start_s, r.end_s), r.start_s, r.end_s)
        for r in regions
    ]
    head = ctx.finding(
        f"{plural(errors.count, 'decode error')} in {plural(len(regions), 'region')}{sample}"
    )
    return result([head, *capped(ctx, found, MAX_LISTED, "damaged regions")], "")


def _region_message(times: tuple[float, ...], start: float, end: float) -> str:
    count = plural(sum(1 for t in times if start <= t <= end), "decode error")
    if start == end:
        return f"{count} at {start:.2f} s"
    return f"{count} between {start:.2f} s and {end:.2f} s"


def check_duration_mismatch(ctx: Context) -> Outcome:
    """Audio and video start together and last as long as each other."""
    media = ctx.m.media
    if not media.video or not media.audio:
        return skip("Needs both a video and an audio stream")
    video, audio = media.video[0], media.audio[0]
    limit = ctx.profile.container.max_av_duration_mismatch_s
    problems = [_start_problem(video, audio, limit), _length_problem(video, audio, limit)]
    unknown = video.duration_s is None or audio.duration_s is None
    if unknown and problems[0] is None:
        return skip("Stream durations are unknown")
    found = [ctx.finding(p) for p in problems if p is not None]
    return result(found, f"Audio and video line up within {limit} s")


def _start_problem(video: VideoStream, audio: AudioStream, limit: float) -> str | None:
    offset = audio.start_s - video.start_s
    if abs(offset) <= limit:
        return None
    return f"Audio starts {seconds(abs(offset))} {'after' if offset > 0 else 'before'} video"


def _length_problem(video: VideoStream, audio: AudioStream, limit: float) -> str | None:
    if video.duration_s is None or audio.duration_s is None:
        return None
    diff = audio.duration_s - video.duration_s
    if abs(diff) <= limit:
        return None
    side = "longer" if diff > 0 else "shorter"
    return (
        f"Audio is {seconds(abs(diff))} {side} than video "
        f"({audio.duration_s:.2f} s vs {video.duration_s:.2f} s; max {limit} s)"
    )
