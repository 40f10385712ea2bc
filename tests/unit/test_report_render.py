"""Renderings of a report dict: HTML page, CSV rows, the text summary."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from kickflow.media.model import LoudnessPoint, Segment
from kickflow.profiles import load_profile
from kickflow.report import build_report, render_csv
from kickflow.report_html import render_html
from kickflow.report_text import render_text
from tests.unit.test_checks import clean, with_audio, with_loudness, with_video

EVIL = '<script>alert("x")</script>&.mp4'


def report_dict(name: str = "clip.mp4", **overrides: Any) -> dict[str, Any]:
    m = with_video(clean(), black=(Segment(10.0, 12.0),), freeze=(Segment(40.0, 43.0),))
    m = with_audio(m, silence=(Segment(30.0, 33.0),))
    curve = tuple(LoudnessPoint(t / 10, -23 + 6 * math.sin(t / 40), -23.0) for t in range(600))
    m = with_loudness(m, true_peak_dbtp=-0.2, curve=curve)
    report = build_report(m, load_profile("ebu-r128"), input_name=name, size_bytes=5_000_000)
    # Renderers work from the stored JSON form, so go through JSON like the job service does.
    return {**json.loads(json.dumps(report.to_dict())), **overrides}


def svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg.*?</svg>", page, re.S)]


def test_html_is_one_self_contained_page() -> None:
    page = render_html(report_dict())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page


def test_html_has_verdict_measurements_and_findings() -> None:
    page = render_html(report_dict())
    assert "<h1>FAILED</h1>" in page
    assert "-23.0 LUFS" in page
    assert "h264 1920x1080 25 fps progressive yuv420p" in page
    assert "00:00:10:00" in page
    assert "Black picture for 2.0 s from 10.00 s" in page


def test_html_timeline_has_a_bar_per_timed_finding_coloured_by_severity() -> None:
    timeline = svgs(render_html(report_dict()))[0]
    bars = [r for r in timeline.iter("{http://www.w3.org/2000/svg}rect") if r.find("*") is not None]
    assert len(bars) == 3  # black, silence, freeze; the whole-file true peak is not on it
    assert {b.get("fill") for b in bars} == {"#ef8f00"}  # all warnings
    xs = sorted(float(b.get("x", 0)) for b in bars)
    assert xs[0] < xs[1] < xs[2]  # 10 s, 30 s, 40 s


def test_html_loudness_curve_has_both_lines_and_the_target() -> None:
    curve = svgs(render_html(report_dict()))[1]
    lines = curve.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 2
    assert len(lines[0].get("points", "").split()) == 600
    assert "target -23 LUFS" in ET.tostring(curve, encoding="unicode")


def test_html_long_curve_is_thinned() -> None:
    d = report_dict()
    d["loudness"]["curve"] = [
        {"t": i / 10, "momentary": -20.0, "short_term": -21.0} for i in range(36_000)
    ]
    d["media"]["duration_s"] = 3600.0
    lines = svgs(render_html(d))[1].findall("{http://www.w3.org/2000/svg}polyline")
    assert 0 < len(lines[0].get("points", "").split()) <= 1200


def test_html_escapes_names_and_messages() -> None:
    d = report_dict(EVIL)
    d["findings"][0]["message"] = "<b>bold</b>"
    page = render_html(d)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;.mp4" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    svgs(page)  # still well-formed


def test_html_without_audio_or_findings() -> None:
    d = report_dict()
    d["findings"], d["loudness"]["curve"] = [], []
    page = render_html(d)
    assert "No timed findings" in page
    assert "No loudness curve" in page
    assert "No findings." in page


def test_csv_one_row_per_finding() -> None:
    d = report_dict()
    rows = list(csv.reader(io.StringIO(render_csv(d))))
    assert rows[0][:6] == ["check", "severity", "start_s", "end_s", "timecode", "message"]
    assert rows[0][6:] == ["timecode_start", "timecode_end"]
    assert len(rows) == 1 + len(d["findings"]) == 5
    assert rows[1] == ["audio.true_peak", "error", "", "", "", rows[1][5], "", ""]
    assert rows[2][:5] == ["video.black", "warning", "10.0", "12.0", "00:00:10:00"]


def test_csv_neutralises_formulas() -> None:
    d = report_dict()
    d["findings"][0]["message"] = "=HYPERLINK(1)"
    rows = list(csv.reader(io.StringIO(render_csv(d))))
    assert rows[1][5] == "'=HYPERLINK(1)"


def test_text_summary() -> None:
    text = render_text(report_dict())
    assert "Verdict:   FAILED (1 error, 3 warnings)" in text
    assert "Loudness:  -23.0 LUFS (target -23, -24 to -22), LRA 6.0 LU" in text
    assert "true peak -0.2 dBTP (max -1)" in text
    assert "Video:     h264 1920x1080 25 fps progressive yuv420p" in text
    line = next(x for x in text.splitlines() if "video.black:" in x)
    assert "00:00:10:00" in line
    assert "10.00–12.00 s" in line
    assert "passed   container.streams" not in text
    assert "passed   container.streams" in render_text(report_dict(), verbose=True)


def test_text_summary_below_gate() -> None:
    d = report_dict()
    d["loudness"]["integrated_lufs"] = None
    assert "Loudness:  below the gate (silent)" in render_text(d)
