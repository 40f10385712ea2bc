"""Running the real analysis pass on a generated file."""

from __future__ import annotations

from pathlib import Path

from kickflow.media.analysis import analyse
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.graph import AnalysisOptions
from kickflow.media.model import Measurements, Segment
from kickflow.media.runner import RunLimits


def measure_file(path: Path, options: AnalysisOptions | None = None) -> Measurements:
    return analyse(
        path,
        path.stat().st_size,
        binary=find_ffmpeg().path,
        options=options or AnalysisOptions(),
        limits=RunLimits(stall_seconds=60),
    )


def assert_one_segment(segments: tuple[Segment, ...], start: float, end: float) -> None:
    """Exactly one segment, starting and ending within ±0.5 s of the inserted defect."""
    assert len(segments) == 1, segments
    seg = segments[0]
    assert abs(seg.start_s - start) <= 0.5, seg
    assert abs(seg.end_s - end) <= 0.5, seg
