"""Findings at source timecode in the report, its JSON round trip and every renderer."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from typing import Any

import pytest

from kickflow.errors import TimecodeInvalid
from kickflow.media.model import Measurements, Segment
from kickflow.profiles import load_profile
from kickflow.report import Report, build_report, render_csv, render_html, render_text
from kickflow.report_html import measurement_rows
from kickflow.web.job_view import when
from tests.unit.test_checks import clean, with_audio, with_media, with_video

NTSC = 30000 / 1001


def black_at(
    start: float, end: float, *, fps: float = 25.0, tag: str | None = None
) -> Measurements:
    m = with_video(clean(), black=(Segment(start, end),))
    video = replace(m.media.video[0], frame_rate=fps, avg_frame_rate=fps)
    return with_media(m, video=(video,), timecode=tag)


def report_dict(m: Measurements, timecode_start: str | None = None) -> dict[str, Any]:
    report = build_report(
        m, load_profile("ebu-r128"), input_name="x.mov", size_bytes=1, timecode_start=timecode_start
    )
    stored: dict[str, Any] = json.loads(json.dumps(report.to_dict()))
    return stored


def black(d: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in d["findings"] if f["check"] == "video.black")
    return found


def test_findings_carry_seconds_and_the_container_timecode() -> None:
    d = report_dict(black_at(10.0, 12.0, tag="10:00:00:00"))
    f = black(d)
    assert (f["start_s"], f["end_s"]) == (10.0, 12.0)
    assert (f["timecode_start"], f["timecode_end"]) == ("10:00:10:00", "10:00:12:00")
    assert f["timecode"] == "00:00:10:00"  # the elapsed timecode stays what it was
    assert d["timecode"] == {
        "start": "10:00:00:00",
        "frame_rate": 25.0,
        "drop_frame": False,
        "rate_label": "25",
        "source": "container",
    }
    assert d["media"]["timecode"] == "10:00:00:00"


def test_drop_frame_source_at_29_97() -> None:
    frame_216 = round(216 * 1001 / 30000, 6)  # what blackdetect prints for frame 216
    d = report_dict(black_at(frame_216, 9.0, fps=NTSC, tag="00:59:50;00"))
    assert black(d)["timecode_start"] == "00:59:57;06"
    assert black(d)["timecode_end"] == "00:59:59;00"  # 9.0 s = 269.73 frames: nearest is 270
    assert d["timecode"]["drop_frame"] is True
    assert d["timecode"]["rate_label"] == "29.97 DF"
    assert d["timecode"]["frame_rate"] == 29.97


def test_without_a_tag_the_source_starts_at_zero() -> None:
    d = report_dict(black_at(10.0, 12.0))
    assert d["timecode"]["start"] == "00:00:00:00" and d["timecode"]["source"] == "default"
    assert black(d)["timecode_start"] == black(d)["timecode"] == "00:00:10:00"


def test_override_replaces_the_container_start_and_survives_a_round_trip() -> None:
    d = report_dict(black_at(10.0, 12.0, tag="10:00:00:00"), timecode_start="01:00:00:00")
    assert black(d)["timecode_start"] == "01:00:10:00"
    assert d["timecode"]["source"] == "override"
    again = Report.from_dict(d).to_dict()
    assert again["timecode"] == d["timecode"]
    assert black(again)["timecode_start"] == "01:00:10:00"
    container = report_dict(black_at(10.0, 12.0, tag="10:00:00:00"))
    assert black(Report.from_dict(container).to_dict())["timecode_start"] == "10:00:10:00"


@pytest.mark.parametrize("bad", ["10:00:00;00", "00:00:00:25", "tomorrow"])
def test_an_override_that_does_not_fit_the_rate_is_refused(bad: str) -> None:
    with pytest.raises(TimecodeInvalid):
        report_dict(black_at(10.0, 12.0), timecode_start=bad)


def test_audio_only_findings_keep_the_elapsed_clock() -> None:
    m = replace(with_media(clean(), video=(), timecode="10:00:00:00"), video=None)
    m = with_audio(m, silence=(Segment(20.5, 25.0),))
    d = build_report(m, load_profile("web"), input_name="a.wav", size_bytes=1).to_dict()
    silence = next(f for f in d["findings"] if f["check"] == "audio.silence")
    assert silence["timecode_start"] == silence["timecode"] == "00:00:20.500"
    assert d["timecode"]["start"] is None
    assert "Timecode:" not in render_text(d)


def test_renderers_show_source_timecode() -> None:
    d = report_dict(black_at(7.2072, 9.0, fps=NTSC, tag="00:59:50;00"))
    text = render_text(d)
    assert "Timecode:  00:59:50;00 at 29.97 fps, drop-frame (from the file)" in text
    assert "00:59:57;06" in text and "00:00:07:06" not in text
    page = render_html(d)
    assert "00:59:50;00 at 29.97 fps, drop-frame" in page and "00:59:57;06" in page
    rows = list(csv.DictReader(io.StringIO(render_csv(d))))
    row = next(r for r in rows if r["check"] == "video.black")
    assert (row["timecode_start"], row["timecode_end"]) == ("00:59:57;06", "00:59:59;00")
    assert when(black(d)) == "00:59:57;06–00:59:59;00"
    rows = dict(measurement_rows(d))  # the dashboard's job page shows these rows too
    assert rows["Source timecode"] == "00:59:50;00 at 29.97 fps, drop-frame (from the file)"


def test_pages_of_older_reports_fall_back_to_the_elapsed_timecode() -> None:
    d = report_dict(black_at(10.0, 12.0, tag="10:00:00:00"))
    for f in d["findings"]:
        f.pop("timecode_start"), f.pop("timecode_end")
    d.pop("timecode")
    assert when(black(d)) == "00:00:10:00–00:00:12:00"
    assert "00:00:10:00" in render_text(d) and "Timecode:" not in render_text(d)
