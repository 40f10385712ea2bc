"""SMPTE timecode: frame-exact conversions at every drop-frame boundary, and the source's start."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from fractions import Fraction

import pytest

from kickflow.errors import TimecodeInvalid
from kickflow.media.timecode import (
    TimecodeRate,
    frame_at,
    frames_from_timecode,
    parse_timecode_text,
    rate_for,
    source_timecode,
    timecode_from_frames,
)

DF30 = rate_for(30000 / 1001)
DF60 = rate_for(60000 / 1001)


def labels(nominal: int, dropped: int, hours: int, first_hour: int = 0) -> Iterator[str]:
    """Every label in order, written out the slow way: the oracle the arithmetic is checked on."""
    sep = ";" if dropped else ":"
    hour_range = range(first_hour, first_hour + hours)
    for hh, mm, ss, ff in itertools.product(hour_range, range(60), range(60), range(nominal)):
        if dropped and ss == 0 and ff < dropped and mm % 10:
            continue
        yield f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"


@pytest.mark.parametrize(
    ("frame", "label"),
    [
        (0, "00:00:00;00"),
        (1799, "00:00:59;29"),
        (1800, "00:01:00;02"),  # ;00 and ;01 skipped at minute 1
        (1801, "00:01:00;03"),
        (3597, "00:01:59;29"),
        (3598, "00:02:00;02"),
        (17981, "00:09:59;29"),
        (17982, "00:10:00;00"),  # not at minute 10
        (17983, "00:10:00;01"),
        (19781, "00:10:59;29"),
        (19782, "00:11:00;02"),
        (107891, "00:59:59;29"),
        (107892, "01:00:00;00"),
        (2589407, "23:59:59;29"),
        (2589408, "00:00:00;00"),  # a day later: wraps
    ],
)
def test_drop_frame_29_97_boundaries(frame: int, label: str) -> None:
    assert timecode_from_frames(frame, DF30) == label
    assert frames_from_timecode(label, DF30) == frame % DF30.frames_per_day


@pytest.mark.parametrize(
    ("frame", "label"),
    [
        (3599, "00:00:59;59"),
        (3600, "00:01:00;04"),  # ;00–;03 skipped at minute 1
        (3601, "00:01:00;05"),
        (35963, "00:09:59;59"),
        (35964, "00:10:00;00"),
        (35965, "00:10:00;01"),
        (39563, "00:10:59;59"),
        (39564, "00:11:00;04"),
        (5178815, "23:59:59;59"),
    ],
)
def test_drop_frame_59_94_boundaries(frame: int, label: str) -> None:
    assert timecode_from_frames(frame, DF60) == label
    assert frames_from_timecode(label, DF60) == frame


@pytest.mark.parametrize(("rate", "dropped"), [(DF30, 2), (DF60, 4)])
def test_every_minute_edge_of_a_day(rate: TimecodeRate, dropped: int) -> None:
    """Each minute's first label, its last, and the frame after it, for all 1440 minutes."""
    last = rate.nominal - 1
    for minute in range(24 * 60):
        hh, mm = divmod(minute, 60)
        first = 0 if mm % 10 == 0 else dropped
        start = frames_from_timecode(f"{hh:02d}:{mm:02d}:00;{first:02d}", rate)
        assert start == minute * rate.nominal * 60 + first - dropped * (minute - minute // 10)
        assert timecode_from_frames(start, rate) == f"{hh:02d}:{mm:02d}:00;{first:02d}"
        end = frames_from_timecode(f"{hh:02d}:{mm:02d}:59;{last:02d}", rate)
        assert timecode_from_frames(end, rate) == f"{hh:02d}:{mm:02d}:59;{last:02d}"
        assert timecode_from_frames(start - 1, rate).endswith(f":59;{last:02d}")
        assert end - start + 1 == rate.nominal * 60 - first


def test_the_last_hour_of_the_day_label_by_label_at_59_94() -> None:
    start = DF60.frames_per_day - 6 * DF60.frames_per_ten_minutes
    for offset, label in enumerate(labels(60, 4, 1, first_hour=23)):
        assert timecode_from_frames(start + offset, DF60) == label, offset
        assert frames_from_timecode(label, DF60) == start + offset, label


def test_a_whole_day_at_29_97_df_round_trips_at_every_minute_boundary() -> None:
    """Minute by minute through the day, counting each minute's labels (1798 where ;00 and ;01
    are dropped, 1800 at every tenth): the first and last second of every minute, where frames
    are dropped or not, convert both ways. The first hour goes label by label below."""
    start = 0
    for hh, mm in itertools.product(range(24), range(60)):
        dropped = 2 if mm % 10 else 0
        first = [f"{hh:02d}:{mm:02d}:00;{ff:02d}" for ff in range(dropped, 30)]
        last = [f"{hh:02d}:{mm:02d}:59;{ff:02d}" for ff in range(30)]
        per_minute = 60 * 30 - dropped
        for offset, label in [*enumerate(first), *enumerate(last, per_minute - 30)]:
            assert timecode_from_frames(start + offset, DF30) == label, start + offset
            assert frames_from_timecode(label, DF30) == start + offset, label
        start += per_minute
    assert start == DF30.frames_per_day == 2_589_408


def test_the_first_hour_at_29_97_df_round_trips_label_by_label() -> None:
    for frame, label in enumerate(labels(30, 2, 1)):
        assert timecode_from_frames(frame, DF30) == label, frame
        assert frames_from_timecode(label, DF30) == frame, label


def test_the_first_hour_at_59_94_df_round_trips_label_by_label() -> None:
    for frame, label in enumerate(labels(60, 4, 1)):
        assert timecode_from_frames(frame, DF60) == label, frame
        assert frames_from_timecode(label, DF60) == frame, label


@pytest.mark.parametrize("fps", [24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 50.0, 60.0])
def test_non_drop_rates_count_every_label(fps: float) -> None:
    rate = rate_for(fps, drop_frame=False)
    assert not rate.drop_frame
    for frame, label in enumerate(labels(rate.nominal, 0, 1)):
        assert timecode_from_frames(frame, rate) == label
        assert frames_from_timecode(label, rate) == frame


@pytest.mark.parametrize(
    ("fps", "exact", "nominal", "drop"),
    [
        (23.976, Fraction(24000, 1001), 24, False),
        (24000 / 1001, Fraction(24000, 1001), 24, False),
        (24.0, Fraction(24), 24, False),
        (25.0, Fraction(25), 25, False),
        (29.97, Fraction(30000, 1001), 30, True),
        (30.0, Fraction(30), 30, False),
        (50.0, Fraction(50), 50, False),
        (59.94, Fraction(60000, 1001), 60, True),
        (60.0, Fraction(60), 60, False),
    ],
)
def test_rates_are_recognised(fps: float, exact: Fraction, nominal: int, drop: bool) -> None:
    rate = rate_for(fps)
    assert (rate.fps, rate.nominal, rate.drop_frame) == (exact, nominal, drop)


@pytest.mark.parametrize("fps", [25.0, 24000 / 1001, 30.0, 60.0, 50.0])
def test_drop_frame_only_exists_at_29_97_and_59_94(fps: float) -> None:
    with pytest.raises(TimecodeInvalid, match=r"29\.97 and 59\.94"):
        rate_for(fps, drop_frame=True)


@pytest.mark.parametrize("label", ["00:01:00;00", "00:01:00;01", "01:59:00;01"])
def test_skipped_drop_frame_labels_are_refused_at_29_97(label: str) -> None:
    with pytest.raises(TimecodeInvalid, match="does not exist in drop-frame"):
        frames_from_timecode(label, DF30)


@pytest.mark.parametrize("label", ["00:01:00;03", "00:21:00;00"])
def test_skipped_drop_frame_labels_are_refused_at_59_94(label: str) -> None:
    with pytest.raises(TimecodeInvalid, match="does not exist in drop-frame"):
        frames_from_timecode(label, DF60)


@pytest.mark.parametrize(
    "text", ["", "10:00:00", "1:2:3:4", "24:00:00:00", "00:60:00:00", "00:00:60:00", "aa:bb:cc:dd"]
)
def test_malformed_timecodes_are_refused(text: str) -> None:
    with pytest.raises(TimecodeInvalid):
        parse_timecode_text(text)


def test_frame_number_must_fit_the_rate() -> None:
    with pytest.raises(TimecodeInvalid, match="counts 0–24"):
        frames_from_timecode("00:00:00:25", rate_for(25.0))
    assert frames_from_timecode("00:00:00:24", rate_for(25.0)) == 24


def test_separators() -> None:
    assert parse_timecode_text("10:00:00:00") == ((10, 0, 0, 0), False)
    assert parse_timecode_text("00:59:50;00") == ((0, 59, 50, 0), True)
    assert parse_timecode_text("00:59:50.00")[1]  # FFmpeg writes '.' for drop-frame too


def test_seconds_to_frames_use_the_real_rate() -> None:
    fps = Fraction(30000, 1001)
    assert frame_at(7.20, fps) == 216  # frame 216 starts at 7.2072 s, frame 215 at 7.1738 s
    assert frame_at(7.19, fps) == 215
    assert frame_at(round(216 * 1001 / 30000, 6), fps) == 216  # a 6-decimal pts_time
    assert frame_at(2.0, fps) == 60  # the 5 fps sample at 2.0 s holds frame 60 (2.002 s)
    assert frame_at(-1.0, fps) == 0


def test_the_issue_example_at_29_97_df() -> None:
    source = source_timecode(30000 / 1001, "00:59:50;00")
    assert source is not None and source.origin == "container"
    assert source.start == "00:59:50;00"
    assert source.at(7.20) == "00:59:57;06"  # 215.78 frames: frame 216 starts nearest
    assert source.at(216 * 1001 / 30000) == "00:59:57;06"
    assert source.at(215 * 1001 / 30000) == "00:59:57;05"
    assert source.at(299 * 1001 / 30000) == "00:59:59;29"
    assert source.at(300 * 1001 / 30000) == "01:00:00;00"  # minute 60 is a tenth: nothing dropped


def test_findings_across_a_dropped_minute() -> None:
    source = source_timecode(30000 / 1001, "00:00:59;00")
    assert source is not None
    assert source.at(29 * 1001 / 30000) == "00:00:59;29"
    assert source.at(30 * 1001 / 30000) == "00:01:00;02"
    wide = source_timecode(60000 / 1001, "00:00:59;00")
    assert wide is not None and wide.at(60 * 1001 / 60000) == "00:01:00;04"


def test_real_time_and_drop_frame_labels_agree_every_ten_minutes() -> None:
    for fps in (30000 / 1001, 60000 / 1001):
        source = source_timecode(fps, None)
        assert source is not None and source.origin == "default" and source.rate.drop_frame
        assert source.at(600.0) == "00:10:00;00"
        assert source.at(3600.0) == "01:00:00;00"


def test_override_wins_and_container_tags_are_lenient() -> None:
    over = source_timecode(25.0, "10:00:00:00", "01:00:00:00")
    assert over is not None and (over.start, over.origin) == ("01:00:00:00", "override")
    odd = source_timecode(25.0, "10:00:00;00")  # a ';' tag on a 25 fps file: read as non-drop
    assert odd is not None and (odd.start, odd.rate.drop_frame) == ("10:00:00:00", False)
    bad = source_timecode(25.0, "garbage")
    assert bad is not None and (bad.start, bad.origin) == ("00:00:00:00", "default")
    ndf = source_timecode(30000 / 1001, "01:00:00:00")  # ':' on 29.97: non-drop
    assert ndf is not None and not ndf.rate.drop_frame and ndf.at(600.0) == "01:09:59:12"
    assert source_timecode(None, "10:00:00:00") is None
    with pytest.raises(TimecodeInvalid):
        source_timecode(25.0, None, "10:00:00;00")  # drop-frame asked for at 25 fps
