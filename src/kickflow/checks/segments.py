"""Interval arithmetic on time segments: subtracting, grouping samples into runs, edges."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kickflow.media.model import Segment
from kickflow.profiles.model import SegmentSpec

# A run that starts this close to 0 (or ends this close to the end) touches the file's edge:
# detectors report the first/last analysed frame, not exactly 0 or the container duration.
EDGE_S = 0.25


def subtract(segment: Segment, holes: Iterable[Segment]) -> list[Segment]:
    """The parts of ``segment`` that lie outside every hole."""
    pieces = [segment]
    for hole in holes:
        next_pieces: list[Segment] = []
        for piece in pieces:
            if hole.end_s <= piece.start_s or hole.start_s >= piece.end_s:
                next_pieces.append(piece)
                continue
            if hole.start_s > piece.start_s:
                next_pieces.append(Segment(piece.start_s, hole.start_s, piece.channel))
            if hole.end_s < piece.end_s:
                next_pieces.append(Segment(hole.end_s, piece.end_s, piece.channel))
        pieces = next_pieces
    return pieces


def total_s(segments: Iterable[Segment]) -> float:
    return sum(s.duration_s for s in segments)


def runs(times: Sequence[float], spacing_s: float) -> list[Segment]:
    """Group sorted sample times into runs of consecutive samples, each sample covering spacing."""
    found: list[Segment] = []
    for t in times:
        if found and t - (found[-1].end_s - spacing_s) <= 1.5 * spacing_s:
            found[-1] = Segment(found[-1].start_s, t + spacing_s)
        else:
            found.append(Segment(t, t + spacing_s))
    return found


def merge(times: Sequence[float], gap_s: float) -> list[Segment]:
    """Cluster sorted instants that lie within ``gap_s`` of each other."""
    found: list[Segment] = []
    for t in times:
        if found and t - found[-1].end_s <= gap_s:
            found[-1] = Segment(found[-1].start_s, t)
        else:
            found.append(Segment(t, t))
    return found


def edge_allowance(segment: Segment, spec: SegmentSpec, duration_s: float | None) -> str | None:
    """``"head"``/``"tail"`` when the run sits at that edge within the allowed length."""
    if segment.start_s <= EDGE_S and segment.end_s <= spec.head_allowed_s + EDGE_S:
        return "head"
    if duration_s is None or segment.end_s < duration_s - EDGE_S:
        return None
    if segment.start_s >= duration_s - spec.tail_allowed_s - EDGE_S:
        return "tail"
    return None


def where(segment: Segment, duration_s: float | None) -> str:
    """``at the head``/``at the tail``/empty: words for messages about a run."""
    at_end = duration_s is not None and segment.end_s >= duration_s - EDGE_S
    if segment.start_s <= EDGE_S:
        return ", the whole file" if at_end else " at the head"
    return " at the tail" if at_end else ""


def counted(
    segments: Iterable[Segment], spec: SegmentSpec, duration_s: float | None
) -> list[Segment]:
    """Runs long enough to count and not within the allowed head/tail."""
    return [
        s
        for s in segments
        if s.duration_s >= spec.min_s and edge_allowance(s, spec, duration_s) is None
    ]
