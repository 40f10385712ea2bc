"""Timing of text and speech against speech: subtitle cues to a track, a dub to its original.

Subtitle sync fits ``cue = offset + ratio × speech``. The activity of the cues and of the speech
(1 where there is some, 10 ms bins) are cross-correlated for every speed ratio a subtitle file
is commonly off by (timed for another frame rate), which finds the ratio and a global offset
even when the drift is seconds wide; cue in-times are then paired with the speech onsets
nearest to where that fit puts them, and a robust line through those local offsets gives the
final offset and drift. Cue out-times are left out of the fine fit on purpose: they are allowed
to linger after the speech, in-times are not.

Dub timing pairs each speech segment ("line") of the dub with the original line whose start
is nearest, cheapest first and never crossing, so lines are matched in order even when two are
close; what stays unpaired and has no speech of the other track under it is a missing or an
extra line (a line cut in two by a breath is neither).
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING

from kickflow.media.model import Cue, Segment

if TYPE_CHECKING:  # numpy loads when a sync is fitted, not with the checks table
    import numpy as np

COARSE_S = 0.1  # bin of the search over ratios and offsets
FINE_S = 0.01  # bin of the refinement around the best offset
ONSET_WINDOW_S = 0.75  # how far from its predicted onset a cue's in-time may be paired
MIN_PAIRS = 3  # cue/onset pairs needed before a fit is trusted
MIN_DRIFT_SPAN_S = 30.0  # pairs spread over less than this cannot show a drift
DUB_SEARCH_S = 3.0  # a dub line further than this from every original line is unpaired

NTSC_FILM = 24000 / 1001
# Speed ratios a subtitle file can be off by (cue time = ratio × speech time), named by the
# frame rates involved: cues timed at the first rate, picture at the second.
RATIOS: tuple[tuple[float, str], ...] = (
    (1.0, ""),
    (NTSC_FILM / 25, "25 → 23.976 fps"),
    (25 / NTSC_FILM, "23.976 → 25 fps"),
    (24 / 25, "25 → 24 fps"),
    (25 / 24, "24 → 25 fps"),
    (1000 / 1001, "24 → 23.976 or 30 → 29.97 fps"),
    (1001 / 1000, "23.976 → 24 or 29.97 → 30 fps"),
)


@dataclass(frozen=True)
class SyncFit:
    """How a subtitle file's cues sit against a track's speech: ``cue = offset + ratio × t``."""

    offset_s: float  # cue time minus speech time at programme time 0
    ratio: float  # 1.0 = no drift
    pairs: int  # cue in-times paired with a speech onset (0: the coarse search only)
    first_s: float  # programme time of the first and last paired onset
    last_s: float

    def offset_at(self, t: float) -> float:
        """Cue time minus speech time at programme time ``t``."""
        return self.offset_s + (self.ratio - 1.0) * t

    def to_speech_time(self, cue_time: float) -> float:
        return (cue_time - self.offset_s) / self.ratio

    @property
    def drift_s(self) -> float:
        """How much the offset changes between the first and the last paired onset."""
        return self.offset_at(self.last_s) - self.offset_at(self.first_s)

    @property
    def ms_per_minute(self) -> float:
        return (self.ratio - 1.0) * 60_000.0


def frame_rate_change(ratio: float, tolerance: float = 0.0004) -> str | None:
    """The frame-rate pair a drift ratio matches (``25 → 23.976 fps``), if any."""
    for known, name in RATIOS[1:]:
        if abs(ratio - known) <= tolerance:
            return name
    return None


def fit_sync(
    cues: Sequence[Cue], speech: Sequence[Segment], end_s: float, *, onset_lead_s: float = 0.0
) -> SyncFit | None:
    """The best fit of ``cues`` to ``speech``; None when there is nothing to align.

    ``onset_lead_s`` is how much earlier than the voice a segment starts (the VAD's padding):
    in-times are paired with the voice, not with the padding.
    """
    if not cues or not speech:
        return None
    ratio, offset = _coarse(cues, speech, end_s)
    offset = _refined_offset(cues, speech, ratio, offset, end_s)
    pairs = _pairs(cues, speech, ratio, offset, onset_lead_s)
    if len(pairs) < MIN_PAIRS:
        return SyncFit(offset, ratio, 0, speech[0].start_s, speech[-1].start_s)
    return _line(pairs, ratio)


def _span_end(cues: Sequence[Cue], speech: Sequence[Segment], end_s: float) -> float:
    return max(end_s, speech[-1].end_s, *(c.end_s for c in cues)) + 1.0


def activity(spans: Sequence[tuple[float, float]], bins: int, bin_s: float) -> np.ndarray:
    """1 in every bin a span covers, else 0 (spans outside 0..bins×bin_s are cut)."""
    import numpy as np

    edges = np.zeros(bins + 1, dtype=np.float64)
    for start, end in spans:
        first = min(max(round(start / bin_s), 0), bins)
        last = min(max(round(end / bin_s), 0), bins)
        if last > first:
            edges[first] += 1
            edges[last] -= 1
    return (np.cumsum(edges[:bins]) > 0).astype(np.float64)


def _coarse(cues: Sequence[Cue], speech: Sequence[Segment], end_s: float) -> tuple[float, float]:
    """The ratio and offset whose cue activity correlates best with the speech activity."""
    import numpy as np

    bins = int(_span_end(cues, speech, end_s) / COARSE_S) + 1
    heard = activity([(s.start_s, s.end_s) for s in speech], bins, COARSE_S)
    best = (-np.inf, 1.0, 0.0)
    for ratio, _ in RATIOS:
        shown = activity([(c.start_s / ratio, c.end_s / ratio) for c in cues], bins, COARSE_S)
        score, lag = _best_lag(shown, heard)
        if score > best[0]:
            best = (score, ratio, lag * COARSE_S * ratio)
    return best[1], best[2]


def _best_lag(shown: np.ndarray, heard: np.ndarray) -> tuple[float, int]:
    """The normalised correlation peak and its lag in bins (``shown`` later = positive)."""
    import numpy as np

    a, b = shown - shown.mean(), heard - heard.mean()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0:
        return -np.inf, 0
    size = 1 << int(2 * len(a) - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.arange(size)
    lags[size // 2 :] -= size
    # Regular dialogue correlates almost as well one line over: of the peaks within 2 % of
    # the best, the smallest offset is the likelier.
    near = np.flatnonzero(corr >= 0.98 * corr.max())
    lag = int(near[np.argmin(np.abs(lags[near]))])
    return float(corr[lag]) / norm, int(lags[lag])


def _refined_offset(
    cues: Sequence[Cue], speech: Sequence[Segment], ratio: float, offset: float, end_s: float
) -> float:
    """The coarse offset refined at 10 ms bins within one coarse bin either side."""
    import numpy as np

    bins = int(_span_end(cues, speech, end_s) / FINE_S) + 1
    spoken = activity([(s.start_s, s.end_s) for s in speech], bins, FINE_S)
    heard = np.concatenate(([0.0], np.cumsum(spoken)))  # speech bins before each bin
    reach = round(COARSE_S / FINE_S)
    shift = offset / ratio

    def edges(times: list[float]) -> np.ndarray:
        at = np.round((np.array(times) / ratio - shift) / FINE_S).astype(np.int64)
        return np.clip(at, reach, bins - reach)

    first, last = edges([c.start_s for c in cues]), edges([c.end_s for c in cues])
    lags = range(-reach, reach + 1)
    # Speech under the cues moved by k bins, from the running total of the speech activity.
    scores = [float((heard[last + k] - heard[first + k]).sum()) for k in lags]
    # Cue out-times linger after speech, so the overlap is flat over a stretch of lags: take
    # the middle of the best stretch, not its first lag.
    top = max(scores)
    best = [k for k, score in zip(lags, scores, strict=True) if score == top]
    return offset + ratio * FINE_S * float(np.median(best))


def _pairs(
    cues: Sequence[Cue], speech: Sequence[Segment], ratio: float, offset: float, lead_s: float
) -> list[tuple[float, float]]:
    """``(onset, cue start)`` for every cue whose in-time has a speech onset near the fit."""
    onsets = [s.start_s + lead_s if s.start_s > 0 else 0.0 for s in speech]
    out = []
    for cue in cues:
        predicted = (cue.start_s - offset) / ratio
        at = bisect.bisect_left(onsets, predicted)
        near = [onsets[i] for i in (at - 1, at) if 0 <= i < len(onsets)]
        onset = min(near, key=lambda t: abs(t - predicted))
        if abs(onset - predicted) <= ONSET_WINDOW_S:
            out.append((onset, cue.start_s))
    return out


def _line(pairs: Sequence[tuple[float, float]], ratio: float) -> SyncFit:
    """A line through the pairs, refitted twice without those far from it (robust to cues
    that start mid-sentence and onsets of speech with no cue)."""
    import numpy as np

    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    keep = np.ones(len(x), dtype=bool)
    slope, intercept = ratio, float(np.median(y - ratio * x))
    for _ in range(3):
        slope, intercept = _fitted(x[keep], y[keep], ratio)
        residual = np.abs(y - (intercept + slope * x))
        spread = 1.4826 * float(np.median(residual[keep]))
        keep = residual <= max(3 * spread, 0.1)
        if keep.sum() < MIN_PAIRS:
            break
    used = x[keep] if keep.sum() >= MIN_PAIRS else x
    return SyncFit(intercept, slope, int(keep.sum()), float(used.min()), float(used.max()))


def _fitted(x: np.ndarray, y: np.ndarray, ratio: float) -> tuple[float, float]:
    """Least squares slope and intercept; the ratio kept when the pairs span too little time."""
    import numpy as np

    if len(x) < MIN_PAIRS or float(x.max() - x.min()) < MIN_DRIFT_SPAN_S:
        return ratio, float(np.median(y - ratio * x))
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


class Timeline:
    """A track's speech (sorted segments that do not overlap, as the VAD gives them), asked
    how much of it falls in a span in O(log n)."""

    def __init__(self, speech: Sequence[Segment]) -> None:
        self._starts = [s.start_s for s in speech]
        self._ends = [s.end_s for s in speech]
        self._before = list(accumulate((s.duration_s for s in speech), initial=0.0))

    def _until(self, t: float) -> float:
        """Seconds of speech before ``t``."""
        i = bisect.bisect_right(self._starts, t)
        return self._before[i] - max(0.0, self._ends[i - 1] - t) if i else 0.0

    def covered(self, start: float, end: float) -> float:
        """Seconds of speech between ``start`` and ``end``."""
        return max(0.0, self._until(end) - self._until(start))

    def has_speech(self, start: float, end: float) -> bool:
        """Speech under at least 30 % of the span (or 0.3 s of it, for long cues)."""
        return end > start and self.covered(start, end) >= min(0.3 * (end - start), 0.3)


# --- dub timing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinePair:
    original: Segment
    dub: Segment

    @property
    def shift_s(self) -> float:
        """How much later the dub's line starts than the original's."""
        return self.dub.start_s - self.original.start_s


@dataclass(frozen=True)
class DubAlignment:
    pairs: tuple[LinePair, ...]
    missing: tuple[Segment, ...]  # original lines with no speech in the dub
    extra: tuple[Segment, ...]  # dub lines with no speech in the original

    @property
    def offset_s(self) -> float:
        """The dub's typical lateness (median shift of paired lines); 0 with none paired."""
        return statistics.median(p.shift_s for p in self.pairs) if self.pairs else 0.0


def align_lines(original: Sequence[Segment], dub: Sequence[Segment]) -> DubAlignment:
    """Pair the dub's lines with the original's and name what has no counterpart."""
    paired = _paired_lines(original, dub)
    used_o = {i for i, _ in paired}
    used_d = {j for _, j in paired}
    heard_o, heard_d = Timeline(original), Timeline(dub)
    missing = [s for i, s in enumerate(original) if i not in used_o and not _heard(s, heard_d)]
    extra = [s for j, s in enumerate(dub) if j not in used_d and not _heard(s, heard_o)]
    pairs = tuple(LinePair(original[i], dub[j]) for i, j in sorted(paired))
    return DubAlignment(pairs, tuple(missing), tuple(extra))


def _heard(line: Segment, other: Timeline) -> bool:
    """The other track speaks over at least half of ``line``."""
    return other.covered(line.start_s, line.end_s) >= 0.5 * line.duration_s


def _paired_lines(original: Sequence[Segment], dub: Sequence[Segment]) -> list[tuple[int, int]]:
    """Index pairs, nearest starts first, each line used once, pairs never crossing."""
    starts = [s.start_s for s in dub]
    candidates = []
    for i, line in enumerate(original):
        lo = bisect.bisect_left(starts, line.start_s - DUB_SEARCH_S)
        hi = bisect.bisect_right(starts, line.start_s + DUB_SEARCH_S)
        candidates += [(abs(starts[j] - line.start_s), i, j) for j in range(lo, hi)]
    chosen: list[tuple[int, int]] = []  # sorted by original index (and so by dub index)
    for _, i, j in sorted(candidates):
        at = bisect.bisect_left(chosen, (i, j))
        before = chosen[at - 1] if at else (-1, -1)
        after = chosen[at] if at < len(chosen) else (len(original), len(dub))
        if before[0] < i < after[0] and before[1] < j < after[1]:
            chosen.insert(at, (i, j))
    return chosen
