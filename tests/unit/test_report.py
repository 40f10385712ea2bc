"""The report: verdict rules, timecodes, the JSON shape and its round trip."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from kickflow.checks import Finding
from kickflow.media.model import LevelSample, LoudnessPoint, Segment
from kickflow.profiles import CHECK_IDS, load_profile
from kickflow.report import Report, build_report, thin_levels, timecode, verdict_of
from tests.unit.test_checks import clean, with_audio, with_loudness, with_media, with_video


def finding(severity: Any, start: float | None = None) -> Finding:
    return Finding("video.black", severity, start, None if start is None else start + 1, "x")


def report_of(m: Any = None, profile: str = "ebu-r128", name: str = "clip.mp4") -> Report:
    return build_report(
        m or clean(),
        load_profile(profile),
        input_name=name,
        size_bytes=42,
    )


def defective() -> Any:
    m = with_video(clean(), black=(Segment(10.0, 12.0),))
    m = with_audio(m, silence=(Segment(30.0, 33.0),))
    return with_loudness(m, true_peak_dbtp=-0.2)


@pytest.mark.parametrize(
    ("severities", "verdict"),
    [
        ([], "passed"),
        (["info"], "passed"),
        (["info", "warning"], "needs_review"),
        (["warning", "error", "info"], "failed"),
        (["error"], "failed"),
    ],
)
def test_verdict_rules(severities: list[str], verdict: str) -> None:
    assert verdict_of([finding(s) for s in severities]) == verdict


@pytest.mark.parametrize(
    ("seconds", "fps", "expected"),
    [
        (0.0, 25.0, "00:00:00:00"),
        (10.04, 25.0, "00:00:10:01"),
        (3661.96, 25.0, "01:01:01:24"),
        (1.0, 24000 / 1001, "00:00:00:23"),  # frame 23 of a 24-frame second
        (1001 / 24000 * 24, 24000 / 1001, "00:00:01:00"),
        (59.999, 50.0, "00:00:59:49"),
        (12.3456, None, "00:00:12.346"),
        (3725.5, None, "01:02:05.500"),
        (-1.0, 25.0, "00:00:00:00"),
        (7.0, 0.4, "00:00:07.000"),  # a slide show: frame counts mean nothing
    ],
)
def test_timecode(seconds: float, fps: float | None, expected: str) -> None:
    assert timecode(seconds, fps) == expected


def test_clean_report_passes() -> None:
    report = report_of()
    assert report.verdict == "passed"
    assert report.findings == []
    assert report.profile_name == "ebu-r128"
    assert len(report.checks) == len(CHECK_IDS)


def test_defective_report_fails_with_findings_in_time_order() -> None:
    report = report_of(defective())
    assert report.verdict == "failed"
    assert [(f.check, f.start_s) for f in report.findings] == [
        ("audio.true_peak", None),
        ("video.black", 10.0),
        ("audio.silence", 30.0),
    ]


def test_warnings_only_need_review() -> None:
    assert report_of(with_video(clean(), black=(Segment(10.0, 12.0),))).verdict == "needs_review"


def test_json_shape() -> None:
    d = json.loads(json.dumps(report_of(defective()).to_dict(), allow_nan=False))
    assert d["schema_version"] == 3
    assert d["input"] == {"name": "clip.mp4", "size_bytes": 42}
    assert d["profile"]["name"] == "ebu-r128"
    assert d["profile"]["loudness"]["target_lufs"] == -23.0
    assert d["verdict"] == "failed"
    assert {"duration_s", "format", "video", "audio"} <= d["media"].keys()
    assert d["media"]["video"][0]["width"] == 1920
    assert d["media"]["audio"][0]["sample_rate"] == 48000
    assert {"integrated_lufs", "range_lu", "true_peak_dbtp", "curve"} <= d["loudness"].keys()
    assert d["loudness"]["curve"][1] == {"t": 0.1, "momentary": -23.0, "short_term": -23.0}
    assert [c["id"] for c in d["checks"]][:2] == ["container.streams", "media.decode_errors"]
    assert all(set(c) == {"id", "status", "summary"} for c in d["checks"])
    black = d["findings"][1]
    assert {k: black[k] for k in ("check", "severity", "start_s", "end_s", "timecode")} == {
        "check": "video.black",
        "severity": "warning",
        "start_s": 10.0,
        "end_s": 12.0,
        "timecode": "00:00:10:00",
    }
    assert d["findings"][0]["timecode"] is None
    assert d["measurements"]["decode_errors"]["count"] == 0
    assert d["measurements"]["video"]["levels_summary"]["max_out_of_range"] == 0.002
    assert d["generated_at"].endswith("+00:00")


def test_audio_only_report_uses_millisecond_timecodes() -> None:
    m = replace(with_media(clean(), video=()), video=None)
    m = with_audio(m, silence=(Segment(20.5, 25.0),))
    d = report_of(m, profile="web").to_dict()
    assert d["media"]["video"] == []
    assert d["measurements"]["video"] is None
    silence = next(f for f in d["findings"] if f["check"] == "audio.silence")
    assert silence["timecode"] == "00:00:20.500"


def test_infinite_values_become_null() -> None:
    curve = (LoudnessPoint(0.0, float("-inf"), None), LoudnessPoint(0.1, -30.0, float("nan")))
    m = with_loudness(clean(), curve=curve, sample_peak_dbfs=float("-inf"))
    d = report_of(m).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["loudness"]["curve"][0]["momentary"] is None
    assert d["loudness"]["sample_peak_dbfs"] is None


def test_no_loudness_is_marked_unmeasured() -> None:
    d = report_of(replace(clean(), loudness=None)).to_dict()
    assert d["loudness"]["integrated_lufs"] is None
    assert d["loudness"]["curve"] == []
    assert d["loudness"]["measured"] is False
    assert Report.from_dict(d).measurements.loudness is None


def test_round_trip_through_json() -> None:
    original = report_of(defective())
    d = json.loads(json.dumps(original.to_dict()))
    again = Report.from_dict(d)
    assert again.to_dict() == d
    assert again.verdict == original.verdict
    assert again.findings == original.findings
    media = replace(original.measurements.media, path="clip.mp4", size_bytes=42)
    assert again.measurements.media == media
    assert again.measurements.audio == original.measurements.audio
    assert [c.findings for c in again.checks] == [c.findings for c in original.checks]


def test_level_samples_are_thinned_keeping_the_worst() -> None:
    samples = tuple(LevelSample(i / 25, 0.9 if i == 4321 else 0.0, 16, 235) for i in range(90_000))
    thinned = thin_levels(samples)
    assert len(thinned) <= 1000
    worst = max(thinned, key=lambda s: s.out_of_range)
    assert (worst.t, worst.out_of_range) == (4321 / 25, 0.9)
    assert thin_levels(thinned) == thinned  # already small: kept as is, so round trips are stable
