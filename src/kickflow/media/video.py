"""Video measurements from the statistics branch (black, freeze, levels, crop) and idet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kickflow.media.metadata import MetaFrame, detector_segments, median, merge_times
from kickflow.media.model import CropArea, LevelSample, Segment, VideoAnalysis, VideoStream
from kickflow.media.picture import PictureLevels

INTERLACED_SHARE = 0.75  # share of idet's verdicts in a 1 s bucket that must agree
MIN_INTERLACED_S = 2.0  # a lone second is noise
FREEZE_KEYS = ("lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end")


def levels_from(frames: Sequence[MetaFrame], picture: PictureLevels | None) -> list[LevelSample]:
    """Per analysed frame: share outside broadcast range (BRNG), the Y, Cb and Cr extremes.

    The ``k``-th measured frame is the ``k``-th frame the statistics branch printed (every
    frame is marked, so each is printed): its time is the print's."""
    if picture is None:
        return []
    samples = []
    for f, row in zip(frames, picture.rows.tolist(), strict=False):
        y_min, y_max, u_min, u_max, v_min, v_max, share = row
        samples.append(
            LevelSample(round(f.t, 3), round(share, 5), y_min, y_max, u_min, u_max, v_min, v_max)
        )
    return samples


def freezes_outside_black(freeze: Sequence[Segment], black: Sequence[Segment]) -> list[Segment]:
    """A freeze lying inside a black segment is that black segment, not a second finding."""
    slack = 0.25
    return [
        f
        for f in freeze
        if not any(b.start_s - slack <= f.start_s and f.end_s <= b.end_s + slack for b in black)
    ]


def crop_from(
    frames: Sequence[MetaFrame], black: Sequence[Segment], scale: tuple[float, float]
) -> CropArea | None:
    """The typical active area over non-black frames, in full-resolution pixels."""
    keys = ("w", "h", "x", "y")
    rows = []
    for f in frames:
        if any(b.start_s <= f.t <= b.end_s for b in black):
            continue
        values = [f.number(f"lavfi.cropdetect.{k}") for k in keys]
        if all(v is not None for v in values):
            rows.append(values)
    if not rows:
        return None
    sx, sy = scale
    w, h, x, y = (median([float(r[i] or 0) for r in rows]) for i in range(4))
    return CropArea(round(w * sx), round(h * sy), round(x * sx), round(y * sy))


def _interlaced_bucket(counts: Counter[str]) -> bool:
    """One field order dominates and the opposite order is (nearly) absent.

    Progressive footage with fast motion makes idet answer tff and bff at random; real
    interlaced material answers one field order consistently.
    """
    n = sum(counts.values())
    dominant, other = sorted((counts["tff"], counts["bff"]), reverse=True)
    return n > 0 and dominant / n >= INTERLACED_SHARE and other <= max(1, dominant // 10)


def interlace_from(frames: Sequence[MetaFrame]) -> tuple[list[Segment], dict[str, int]]:
    """Runs of seconds in which idet's single-frame verdicts agree on one field order."""
    totals: Counter[str] = Counter()
    buckets: dict[int, Counter[str]] = {}
    for f in frames:
        verdict = f.text("lavfi.idet.single.current_frame")
        if verdict is None:
            continue
        totals[verdict] += 1
        buckets.setdefault(int(f.t), Counter())[verdict] += 1
    seconds = [float(s) for s in sorted(buckets) if _interlaced_bucket(buckets[s])]
    runs = merge_times(seconds, 1.0, max_gap=0.0)
    return [r for r in runs if r.duration_s >= MIN_INTERLACED_S], dict(totals)


def analyse_video(
    stream: VideoStream,
    *,
    stats: Sequence[MetaFrame],
    idet: Sequence[MetaFrame],
    picture: PictureLevels | None,
    size: tuple[int, int],
    sample_fps: float | None,
    end_s: float,
) -> VideoAnalysis:
    """Assemble the video analysis from the parsed branches."""
    black = detector_segments(stats, "lavfi.black_start", "lavfi.black_end", end_s)
    freeze = detector_segments(stats, *FREEZE_KEYS, end_s)
    scale = (stream.width / size[0], stream.height / size[1])
    interlaced, counts = interlace_from(idet)
    return VideoAnalysis(
        stream_index=stream.index,
        width=stream.width,
        height=stream.height,
        bit_depth=picture.bits if picture is not None else stream.bit_depth or 8,
        sample_fps=sample_fps,
        black=tuple(black),
        freeze=tuple(freezes_outside_black(freeze, black)),
        levels=tuple(levels_from(stats, picture)),
        interlaced=tuple(interlaced),
        interlace_counts=counts,
        crop=crop_from(stats, black, scale),
        frames_analysed=len(stats),
        analysed_duration_s=end_s,
    )
