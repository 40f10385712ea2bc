"""Video checks: stream format, black, freeze, levels, interlace, letterbox."""

from __future__ import annotations

from kickflow.checks.base import (
    Context,
    Finding,
    Outcome,
    capped,
    listed,
    result,
    seconds,
    skip,
    span,
)
from kickflow.checks.segments import counted, runs, subtract, where
from kickflow.media.model import LevelSample, Segment, VideoAnalysis, VideoStream

MAX_LISTED = 50
INTERLACED_SCANS = ("tff", "bff")


def _skip_video(ctx: Context) -> Outcome:
    if not ctx.m.media.video:
        return skip("No video stream")
    return skip("The video was not analysed")


def check_format(ctx: Context) -> Outcome:
    """Codec, resolution, frame rate, scan and pixel format against the profile."""
    if not ctx.m.media.video:
        return skip("No video stream")
    found = [ctx.finding(p) for s in ctx.m.media.video for p in _format_problems(ctx, s)]
    first = ctx.m.media.video[0]
    rate = f"{first.frame_rate:.3f} fps" if first.frame_rate else "unknown rate"
    parts = [first.codec, f"{first.width}x{first.height}", rate, first.scan, first.pix_fmt]
    return result(found, "Video format conforms: " + " ".join(p for p in parts if p))


def _format_problems(ctx: Context, s: VideoStream) -> list[str]:
    spec, label = ctx.profile.video, f"Video stream {s.index}"
    problems: list[str] = []
    if spec.codecs and s.codec not in spec.codecs:
        problems.append(f"{label}: codec {s.codec} is not one of {listed(spec.codecs)}")
    size = f"{s.width}x{s.height}"
    if spec.resolutions and size not in spec.resolutions:
        problems.append(f"{label}: resolution {size} is not one of {listed(spec.resolutions)}")
    if spec.frame_rates and not _rate_allowed(ctx, s.frame_rate):
        rate = f"{s.frame_rate:.3f} fps" if s.frame_rate else "unknown"
        allowed = listed([f"{r:g}" for r in spec.frame_rates])
        problems.append(f"{label}: frame rate {rate} is not one of {allowed} fps")
    if s.variable_frame_rate and not spec.allow_vfr:
        problems.append(f"{label}: variable frame rate; the profile requires constant")
    if spec.scan and s.scan != "unknown" and s.scan not in spec.scan:
        problems.append(f"{label}: scan {s.scan} is not one of {listed(spec.scan)}")
    if spec.pix_fmts and s.pix_fmt is not None and s.pix_fmt not in spec.pix_fmts:
        problems.append(f"{label}: pixel format {s.pix_fmt} is not one of {listed(spec.pix_fmts)}")
    return problems


def _rate_allowed(ctx: Context, rate: float | None) -> bool:
    tolerance = ctx.profile.video.frame_rate_tolerance
    return rate is not None and any(
        abs(rate - r) <= tolerance for r in ctx.profile.video.frame_rates
    )


def check_black(ctx: Context) -> Outcome:
    """Black runs long enough to count, outside the allowed head and tail."""
    if ctx.m.video is None:
        return _skip_video(ctx)
    spec, duration = ctx.profile.black, ctx.duration_s
    found = [
        ctx.at(s, f"Black picture for {span(s)}{where(s, duration)}")
        for s in counted(ctx.m.video.black, spec, duration)
    ]
    return result(capped(ctx, found, MAX_LISTED, "black runs"), _ok_runs("black", spec.min_s))


def check_freeze(ctx: Context) -> Outcome:
    """Frozen picture that is not black (a black hold also freezes: it is the black finding)."""
    video = ctx.m.video
    if video is None:
        return _skip_video(ctx)
    spec, duration = ctx.profile.freeze, ctx.duration_s
    pieces = [piece for s in video.freeze for piece in subtract(s, video.black)]
    found = [
        ctx.at(s, f"Frozen picture for {span(s)}{where(s, duration)}")
        for s in counted(pieces, spec, duration)
    ]
    return result(capped(ctx, found, MAX_LISTED, "freezes"), _ok_runs("freeze", spec.min_s))


def _ok_runs(what: str, min_s: float) -> str:
    return f"No {what} run of {seconds(min_s)} or more outside the allowed head and tail"


def check_levels(ctx: Context) -> Outcome:
    """Runs of analysed frames with too many pixels outside the broadcast range (EBU R 103)."""
    video = ctx.m.video
    if video is None:
        return _skip_video(ctx)
    if not video.levels:
        return skip("Levels were not measured")
    spec = ctx.profile.levels
    bad = [s for s in video.levels if s.out_of_range > spec.max_out_of_range]
    offending = runs([s.t for s in bad], _sample_spacing(ctx, video))
    found = [
        ctx.at(r, _levels_message(r, bad, spec.max_out_of_range, video.bit_depth))
        for r in offending
        if r.duration_s >= spec.min_s
    ]
    worst = max(s.out_of_range for s in video.levels)
    ok = f"At most {worst:.2%} of pixels out of range (max {spec.max_out_of_range:.2%})"
    return result(capped(ctx, found, MAX_LISTED, "out-of-range runs"), ok)


def _sample_spacing(ctx: Context, video: VideoAnalysis) -> float:
    """Seconds between analysed frames: decimated at sample_fps, else every frame."""
    fps = video.sample_fps or ctx.m.media.primary_frame_rate or 25.0
    return 1.0 / fps


def _levels_message(run: Segment, bad: list[LevelSample], limit: float, bits: int) -> str:
    inside = [s for s in bad if run.start_s <= s.t < run.end_s]
    share = max(s.out_of_range for s in inside)
    return (
        f"Levels out of broadcast range on up to {share:.1%} of pixels (max {limit:.1%}) "
        f"for {span(run)}; {_channels_out(inside, bits)}"
    )


def _channels_out(samples: list[LevelSample], bits: int) -> str:
    """``Cb 62–960 outside 64–960 (10-bit)``: the planes whose extremes left the legal range.

    Y is legal from 16 to 235 and chroma from 16 to 240 at 8 bits, scaled by 2^(bits−8).
    Without chroma extremes (or when only the share says so) the Y range is given.
    """
    scale = 2 ** (max(8, bits) - 8)
    planes: list[tuple[str, list[float | None], list[float | None], int]] = [
        ("Y", [s.y_min for s in samples], [s.y_max for s in samples], 235),
        ("Cb", [s.u_min for s in samples], [s.u_max for s in samples], 240),
        ("Cr", [s.v_min for s in samples], [s.v_max for s in samples], 240),
    ]
    parts, y_range = [], ""
    for name, lows, highs, top in planes:
        known_low = [v for v in lows if v is not None]
        known_high = [v for v in highs if v is not None]
        if not known_low or not known_high:
            continue
        low, high = min(known_low), max(known_high)
        legal = (16 * scale, top * scale)
        text = f"{name} {low:g}–{high:g}"
        y_range = y_range or text
        if low < legal[0] or high > legal[1]:
            parts.append(f"{text} outside {legal[0]}–{legal[1]}")
    return f"{', '.join(parts)} ({bits}-bit)" if parts else y_range


def check_interlace(ctx: Context) -> Outcome:
    """Interlaced content where the profile wants progressive, or flagged as progressive."""
    video = ctx.m.video
    if video is None:
        return _skip_video(ctx)
    allowed = ctx.profile.video.scan
    flagged = ctx.m.media.video[0].scan if ctx.m.media.video else "unknown"
    interlace_ok = not allowed or any(s in allowed for s in INTERLACED_SCANS)
    if interlace_ok and flagged in INTERLACED_SCANS:
        return result([], f"Stream is flagged {flagged}, which the profile allows")
    why = f"the stream is flagged {flagged}" if interlace_ok else "the profile wants progressive"
    runs_found = [r for r in video.interlaced if r.duration_s >= ctx.profile.interlace.min_s]
    found = [ctx.at(r, f"Interlaced frames for {span(r)}; {why}") for r in runs_found]
    return result(capped(ctx, found, MAX_LISTED, "interlaced runs"), _interlace_ok(video))


def _interlace_ok(video: VideoAnalysis) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in video.interlace_counts.items())
    return "No interlaced content detected" + (f" ({counts})" if counts else "")


def check_letterbox(ctx: Context) -> Outcome:
    """Black bars around the active picture (letterbox, pillarbox or windowbox)."""
    video = ctx.m.video
    if video is None:
        return _skip_video(ctx)
    crop = video.crop
    if crop is None or crop.width <= 0 or crop.height <= 0:
        return skip("The active picture area was not measured")
    share = ctx.profile.letterbox.min_bar_share
    top, bottom = crop.y, video.height - crop.y - crop.height
    left, right = crop.x, video.width - crop.x - crop.width
    bars: list[str] = []
    if min(top, bottom) >= share * video.height:
        bars.append(f"letterbox ({top} px top, {bottom} px bottom)")
    if min(left, right) >= share * video.width:
        bars.append(f"pillarbox ({left} px left, {right} px right)")
    found: list[Finding] = []
    if bars:
        active = f"active picture {crop.width}x{crop.height} of {video.width}x{video.height}"
        found.append(ctx.finding(f"{' and '.join(bars).capitalize()}: {active}"))
    return result(found, "The picture fills the frame")
