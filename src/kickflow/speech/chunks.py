"""What is sent for transcription: the speech of a track, cut out of its PCM and packed into
chunks, with the map from chunk time back to programme time.

Only speech travels: the VAD segments (plus a little padding, so no word loses its edges)
are cut out of the 16 kHz mono PCM and joined with a short silence, so a 45-minute episode
with 20 minutes of dialogue sends 20 minutes of audio. A chunk ends between two speech runs
(at a silence) once the next run would take it past the duration cap; a single run longer
than the cap is cut at its quietest moment near the cap.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from kickflow.media.model import Segment
from kickflow.speech import SPEECH_RATE

SAMPLE_BYTES = 2  # s16le
PAD_S = 0.15  # added before and after each speech segment
MERGE_GAP_S = 0.5  # speech runs closer than this are sent as one (the gap costs little)
JOIN_S = 0.3  # silence put between two runs in a chunk, so words never run together
QUIET_FRAME_S = 0.05  # resolution of the search for a quiet cut inside a long run


@dataclass(frozen=True)
class Piece:
    """A run of speech inside a chunk: ``start_s`` in programme time, ``offset_s`` in the
    chunk's audio."""

    start_s: float
    duration_s: float
    offset_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def offset_end_s(self) -> float:
        return self.offset_s + self.duration_s


@dataclass(frozen=True)
class Chunk:
    """The speech runs of one request, in order."""

    pieces: tuple[Piece, ...]

    @property
    def duration_s(self) -> float:
        """Length of the chunk's audio (speech plus the joins between runs)."""
        return self.pieces[-1].offset_end_s if self.pieces else 0.0

    @property
    def speech_s(self) -> float:
        return sum(p.duration_s for p in self.pieces)

    @property
    def start_s(self) -> float:
        return self.pieces[0].start_s

    def to_programme(self, t: float, *, end: bool = False) -> float:
        """Programme time of chunk time ``t``. A time in a join (no speech there) goes to the
        next run's start, or for an ``end`` to the previous run's end."""
        previous: Piece | None = None
        for piece in self.pieces:
            if t < piece.offset_s:
                if end and previous is not None:
                    return previous.end_s
                return piece.start_s
            if t <= piece.offset_end_s:
                return piece.start_s + (t - piece.offset_s)
            previous = piece
        return self.pieces[-1].end_s


def speech_runs(
    segments: Sequence[Segment],
    end_s: float,
    *,
    pad_s: float = PAD_S,
    merge_gap_s: float = MERGE_GAP_S,
) -> list[Segment]:
    """The segments padded, clipped to ``[0, end_s]``, sorted, and merged where they touch."""
    runs: list[Segment] = []
    for seg in sorted(segments, key=lambda s: s.start_s):
        start, stop = max(0.0, seg.start_s - pad_s), min(end_s, seg.end_s + pad_s)
        if stop <= start:
            continue
        if runs and start - runs[-1].end_s < merge_gap_s:
            runs[-1] = Segment(runs[-1].start_s, max(runs[-1].end_s, stop))
        else:
            runs.append(Segment(start, stop))
    return runs


def pack(runs: Sequence[Segment], max_s: float, *, join_s: float = JOIN_S) -> list[Chunk]:
    """Consecutive runs packed into chunks of at most ``max_s`` seconds of audio, each chunk
    ending at a silence. Runs longer than ``max_s`` must be split first (:func:`split_long`)."""
    chunks: list[Chunk] = []
    pieces: list[Piece] = []
    for run in runs:
        offset = pieces[-1].offset_end_s + join_s if pieces else 0.0
        if pieces and offset + run.duration_s > max_s:
            chunks.append(Chunk(tuple(pieces)))
            pieces, offset = [], 0.0
        pieces.append(Piece(run.start_s, run.duration_s, offset))
    if pieces:
        chunks.append(Chunk(tuple(pieces)))
    return chunks


def halves(chunk: Chunk, pcm: Path) -> tuple[Chunk, Chunk]:
    """``chunk`` cut in two near its middle: between runs when it has several, else at the
    quietest moment of its one run (a chunk the provider found too large)."""
    if len(chunk.pieces) > 1:
        middle = chunk.duration_s / 2
        cut = min(range(1, len(chunk.pieces)), key=lambda i: abs(chunk.pieces[i].offset_s - middle))
        runs = [Segment(p.start_s, p.end_s) for p in chunk.pieces]
        first, second = runs[:cut], runs[cut:]
    else:
        piece = chunk.pieces[0]
        at = quietest_time(
            pcm, piece.start_s + piece.duration_s / 4, piece.end_s - piece.duration_s / 4
        )
        first, second = [Segment(piece.start_s, at)], [Segment(at, piece.end_s)]
    return Chunk(_laid_out(first)), Chunk(_laid_out(second))


def _laid_out(runs: Sequence[Segment], join_s: float = JOIN_S) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    for run in runs:
        offset = pieces[-1].offset_end_s + join_s if pieces else 0.0
        pieces.append(Piece(run.start_s, run.duration_s, offset))
    return tuple(pieces)


def split_long(runs: Sequence[Segment], max_s: float, pcm: Path) -> list[Segment]:
    """Runs no longer than ``max_s``: a longer one is cut at its quietest moment in the last
    half of each ``max_s`` stretch (the nearest thing to a pause in continuous speech)."""
    out: list[Segment] = []
    for run in runs:
        start = run.start_s
        while run.end_s - start > max_s:
            cut = quietest_time(pcm, start + max_s / 2, start + max_s)
            out.append(Segment(start, cut))
            start = cut
        out.append(Segment(start, run.end_s))
    return out


def quietest_time(pcm: Path, start_s: float, end_s: float) -> float:
    """The middle of the quietest ``QUIET_FRAME_S`` frame of the PCM between the two times."""
    frame = int(QUIET_FRAME_S * SPEECH_RATE)
    with pcm.open("rb") as source:
        samples = np.frombuffer(read_span(source, start_s, end_s), dtype="<i2")
    frames = len(samples) // frame
    if frames < 2:
        return (start_s + end_s) / 2
    energy = np.square(samples[: frames * frame].astype(np.float64)).reshape(frames, frame)
    quietest = int(np.argmin(energy.mean(axis=1)))
    return start_s + (quietest + 0.5) * QUIET_FRAME_S


def read_span(source: BinaryIO, start_s: float, end_s: float) -> bytes:
    """The PCM bytes of ``[start_s, end_s)`` (fewer at the end of the file)."""
    first = round(start_s * SPEECH_RATE)
    count = max(0, round(end_s * SPEECH_RATE) - first)
    source.seek(first * SAMPLE_BYTES)
    return source.read(count * SAMPLE_BYTES)


def chunk_pcm(source: BinaryIO, chunk: Chunk) -> Iterator[bytes]:
    """The chunk's audio as PCM blocks: each run, then the join's silence before the next."""
    cursor = 0.0
    for piece in chunk.pieces:
        if piece.offset_s > cursor:
            yield bytes(round((piece.offset_s - cursor) * SPEECH_RATE) * SAMPLE_BYTES)
        yield read_span(source, piece.start_s, piece.end_s)
        cursor = piece.offset_end_s


def pcm_seconds(pcm: Path) -> float:
    """The length of a PCM file (its programme end as far as speech goes)."""
    return pcm.stat().st_size / (SAMPLE_BYTES * SPEECH_RATE)
