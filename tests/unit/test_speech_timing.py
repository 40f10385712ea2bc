"""Voice-activity segmenting, subtitle-to-speech fits and dub line alignment, on made-up data."""

from __future__ import annotations

import pytest

from kickflow.media.model import Cue, Segment
from kickflow.speech.align import Timeline, align_lines, fit_sync, frame_rate_change
from kickflow.speech.vad import WINDOW_S, segments_from_scores

RULE = {"threshold": 0.5, "min_speech_s": 0.25, "min_silence_s": 0.3, "pad_s": 0.0}


def scores(*runs: tuple[float, int]) -> list[float]:
    """Per-window scores: ``(score, windows)`` runs in order."""
    return [score for score, count in runs for _ in range(count)]


def test_a_run_of_speech_becomes_one_segment_in_seconds() -> None:
    found = segments_from_scores(scores((0.1, 10), (0.9, 20), (0.1, 30)), **RULE)
    assert found == (Segment(round(10 * WINDOW_S, 3), round(30 * WINDOW_S, 3)),)


def test_a_dip_shorter_than_the_minimum_silence_does_not_split_a_line() -> None:
    # 5 windows (0.16 s) below the lower threshold, then speech again: one line.
    found = segments_from_scores(scores((0.9, 20), (0.05, 5), (0.9, 20), (0.0, 40)), **RULE)
    assert len(found) == 1
    # 20 windows (0.64 s) of pause: two lines, the first ending where the pause began.
    found = segments_from_scores(scores((0.9, 20), (0.05, 20), (0.9, 20), (0.0, 40)), **RULE)
    assert [round(s.end_s / WINDOW_S) for s in found] == [20, 60]


def test_hysteresis_keeps_speech_on_between_the_thresholds() -> None:
    # 0.4 is below the start threshold but above the lower one: the line goes on.
    found = segments_from_scores(scores((0.9, 10), (0.4, 30), (0.0, 30)), **RULE)
    assert [round(s.end_s / WINDOW_S) for s in found] == [40]
    # ...and a pause that wanders back between the thresholds still ends the line.
    found = segments_from_scores(scores((0.9, 10), (0.2, 5), (0.4, 20), (0.0, 5)), **RULE)
    assert [round(s.end_s / WINDOW_S) for s in found] == [10]


def test_short_bursts_are_dropped_and_padding_merges_close_lines() -> None:
    burst = scores((0.0, 10), (0.9, 3), (0.0, 40))  # 96 ms: a click, not speech
    assert segments_from_scores(burst, **RULE) == ()
    close = scores((0.0, 10), (0.9, 20), (0.0, 12), (0.9, 20), (0.0, 20))
    padded = segments_from_scores(close, **{**RULE, "pad_s": 0.25})
    assert len(padded) == 1 and padded[0].start_s == pytest.approx(10 * WINDOW_S - 0.25, abs=1e-3)


def test_speech_to_the_end_is_closed_at_the_end_and_padding_stays_inside() -> None:
    found = segments_from_scores(scores((0.9, 30)), **{**RULE, "pad_s": 0.5})
    assert found == (Segment(0.0, round(30 * WINDOW_S, 3)),)
    assert segments_from_scores([], **RULE) == ()


# --- subtitle sync ---------------------------------------------------------------------------

# Twenty lines of different lengths over ten minutes, like a sparse drama.
SPEECH = tuple(
    Segment(10.0 + 29.0 * i + (i % 3) * 0.7, 10.0 + 29.0 * i + (i % 3) * 0.7 + 1.2 + (i % 5) * 0.6)
    for i in range(20)
)


def cues(shift: float = 0.0, ratio: float = 1.0, linger: float = 0.5) -> list[Cue]:
    """One cue per line: in at the voice, out a little after it."""
    return [
        Cue(i + 1, ratio * s.start_s + shift, ratio * (s.end_s + linger) + shift, "text")
        for i, s in enumerate(SPEECH)
    ]


@pytest.mark.parametrize("shift", [0.0, 0.8, -0.45, 3.3, -12.0])
def test_a_constant_offset_is_measured(shift: float) -> None:
    fit = fit_sync(cues(shift), SPEECH, 600.0)
    assert fit is not None and fit.pairs == 20
    assert fit.offset_at(300.0) == pytest.approx(shift, abs=0.02)
    assert abs(fit.drift_s) < 0.02


@pytest.mark.parametrize(
    ("ratio", "name"),
    [(24000 / 1001 / 25, "25 → 23.976 fps"), (25 / (24000 / 1001), "23.976 → 25 fps")],
)
def test_a_frame_rate_drift_is_measured_and_named(ratio: float, name: str) -> None:
    fit = fit_sync(cues(0.4, ratio), SPEECH, 600.0)
    assert fit is not None
    assert fit.ratio == pytest.approx(ratio, abs=2e-4)
    assert fit.offset_s == pytest.approx(0.4, abs=0.05)
    assert abs(fit.drift_s) > 20  # seconds wide over the programme
    assert frame_rate_change(fit.ratio) == name


def test_cues_without_speech_and_speech_without_cues_do_not_move_the_fit() -> None:
    noise = [Cue(100 + i, 20.0 + 60.0 * i, 22.0 + 60.0 * i, "[MUSIC]") for i in range(8)]
    extra = (Segment(25.0 + 61 * i, 26.0 + 61 * i) for i in range(8))
    chatter = tuple(sorted((*SPEECH, *extra), key=lambda s: s.start_s))
    fit = fit_sync([*cues(0.8), *noise], chatter, 600.0)
    assert fit is not None and fit.offset_at(300.0) == pytest.approx(0.8, abs=0.03)


def test_nothing_to_align_gives_no_fit() -> None:
    assert fit_sync([], SPEECH, 600.0) is None
    assert fit_sync(cues(), (), 600.0) is None


def test_speech_under_a_span() -> None:
    heard = Timeline((Segment(1.0, 2.0), Segment(5.0, 9.0)))
    assert heard.covered(0.0, 10.0) == 5.0
    assert heard.covered(1.5, 6.0) == 1.5
    assert heard.covered(6.0, 7.0) == 1.0
    assert heard.has_speech(1.5, 3.0)
    assert not heard.has_speech(2.0, 5.0)
    assert heard.has_speech(4.0, 20.0)  # 4 s of 16: long cues need 0.3 s
    assert not heard.has_speech(3.0, 3.0)
    assert Timeline(()).covered(0.0, 5.0) == 0.0


# --- dub timing ------------------------------------------------------------------------------


def test_dub_lines_pair_with_the_original_and_missing_extra_moved_are_told_apart() -> None:
    original = [Segment(2.0 + 6 * i, 4.0 + 6 * i) for i in range(8)]
    dub = [s for i, s in enumerate(original) if i not in (2, 5)]  # two lines dropped
    dub[3] = Segment(dub[3].start_s + 1.5, dub[3].end_s + 1.5)  # line 5 (index 4) moved
    dub.append(Segment(52.0, 53.0))  # an ad-lib after the end
    aligned = align_lines(original, sorted(dub, key=lambda s: s.start_s))
    assert aligned.missing == (original[2], original[5])
    assert aligned.extra == (Segment(52.0, 53.0),)
    shifts = {p.original.start_s: round(p.shift_s, 3) for p in aligned.pairs}
    assert shifts[original[4].start_s] == 1.5
    assert [v for k, v in shifts.items() if k != original[4].start_s] == [0.0] * 5
    assert aligned.offset_s == 0.0


def test_a_line_cut_in_two_by_a_breath_is_neither_missing_nor_extra() -> None:
    original = [Segment(2.0, 6.0), Segment(10.0, 12.0)]
    dub = [Segment(2.1, 3.5), Segment(4.0, 6.2), Segment(10.2, 12.0)]
    aligned = align_lines(original, dub)
    assert aligned.missing == () and aligned.extra == ()
    assert len(aligned.pairs) == 2


def test_pairs_never_cross() -> None:
    original = [Segment(10.0, 11.0), Segment(11.5, 12.5)]
    dub = [Segment(11.6, 12.4), Segment(12.0, 13.0)]  # both nearer the second line
    aligned = align_lines(original, dub)
    # The nearest pair wins; the first line cannot take the second dub line across it.
    assert [(p.original.start_s, p.dub.start_s) for p in aligned.pairs] == [(11.5, 11.6)]
    assert aligned.missing == (original[0],)
    assert aligned.extra == ()  # half of it is under the original's second line
