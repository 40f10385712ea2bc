"""Thumbnails, the pure parts: which pictures a report wants, the FFmpeg command that takes
them (with the analysis's input guards), what the report says afterwards, and artefact names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kickflow import artifacts
from kickflow.errors import RequestInvalid
from kickflow.media.thumbnails import FrameSource, frame_args, max_inputs
from kickflow.worker.thumbnails import (
    MAX_THUMBNAILS,
    finding_time,
    frame_source,
    plan_shots,
    spread,
    unavailable,
    with_pictures,
)

FRAME = 0.04
MOV = "mov,mp4,m4a,3gp,3g2,mj2"


def finding(check: str, start: float | None, end: float | None = None) -> dict[str, Any]:
    return {"check": check, "severity": "error", "start_s": start, "end_s": end, "message": "x"}


def report_with(findings: list[dict[str, Any]], duration: float = 60.0) -> dict[str, Any]:
    video = {"index": 0, "width": 1920, "height": 1080, "frame_rate": 25.0}
    return {
        "verdict": "failed",
        "media": {"format": MOV, "duration_s": duration, "video": [video], "audio": []},
        "findings": findings,
    }


# --- which pictures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (finding("video.black", 20.0, 23.0), 20.0),  # a long segment: its start
        (finding("video.black", 10.0, 11.0), 10.5),  # a short one: its middle
        (finding("video.freeze", 5.0, None), 5.0),  # a moment
        (finding("video.levels", 7.0, 7.0), 7.0),
        (finding("video.format", None), None),  # whole file: no picture
        (finding("audio.silence", 3.0, 9.0), None),  # not a video finding
        (finding("audio.video", 3.0, 9.0), None),
    ],
)
def test_the_time_of_a_findings_picture(f: dict[str, Any], expected: float | None) -> None:
    assert finding_time(f, FRAME) == expected


def test_a_picture_in_a_one_frame_segment_stays_inside_it() -> None:
    assert finding_time(finding("video.black", 10.0, 10.04), FRAME) == 10.0


def test_spread_keeps_the_ends_and_spaces_evenly() -> None:
    items = list(range(100))
    assert spread(items, 5) == [0, 25, 50, 74, 99]
    assert spread(items[:3], 5) == [0, 1, 2]
    assert spread(items, 1) == [50]


def test_findings_on_one_frame_share_a_picture_and_others_are_left_out() -> None:
    findings = [
        finding("audio.loudness", None),
        finding("video.black", 20.0, 23.0),
        finding("video.levels", 20.01),  # the same frame (20.0 … 20.04)
        finding("audio.silence", 20.0, 23.0),
        finding("video.freeze", 40.0, 45.0),
    ]
    shots = plan_shots(findings, frame_s=FRAME, duration_s=60.0, cap=MAX_THUMBNAILS)
    assert shots.times == [20.0, 40.0]
    assert shots.findings == [[1, 2], [4]]
    assert shots.wanted == 3


def test_past_the_cap_pictures_are_spread_over_the_file() -> None:
    findings = [finding("video.black", float(t), t + 3.0) for t in range(0, 100)]
    shots = plan_shots(findings, frame_s=FRAME, duration_s=200.0, cap=24)
    assert len(shots.times) == 24 and shots.wanted == 100
    assert shots.times[0] == 0.0 and shots.times[-1] == 99.0
    gaps = [b - a for a, b in zip(shots.times, shots.times[1:], strict=False)]
    assert max(gaps) - min(gaps) <= 1.0


def test_thinned_shots_keep_each_picture_with_its_findings() -> None:
    findings = [finding("video.black", float(t), t + 3.0) for t in range(0, 10)]
    shots = plan_shots(findings, frame_s=FRAME, duration_s=60.0, cap=24).thinned(3)
    assert shots.times == [0.0, 4.0, 9.0] and shots.findings == [[0], [4], [9]]
    assert shots.wanted == 10


def test_a_picture_is_never_asked_for_past_the_last_frame() -> None:
    shots = plan_shots([finding("video.black", 59.99)], frame_s=FRAME, duration_s=60.0, cap=24)
    assert shots.times == [pytest.approx(60.0 - FRAME)]


def test_no_video_finding_plans_nothing() -> None:
    findings = [finding("audio.silence", 1.0, 5.0), finding("video.format", None)]
    assert plan_shots(findings, frame_s=FRAME, duration_s=10.0, cap=24).times == []


def test_the_source_is_the_reports_first_video_stream() -> None:
    source = frame_source(report_with([]), Path("/x/clip.mp4"))
    assert source == FrameSource(Path("/x/clip.mp4"), MOV, 0, 1920, 1080, FRAME)
    audio_only = report_with([]) | {"media": {"format": "wav", "video": []}}
    assert frame_source(audio_only, Path("/x/a.wav")) is None


# --- the FFmpeg command -----------------------------------------------------------------------


def test_every_input_is_opened_with_the_analysis_guards(tmp_path: Path) -> None:
    source = FrameSource(tmp_path / "clip.mp4", MOV, 0, 1920, 1080, FRAME)
    args = frame_args(source, [1.0, 20.0, 40.0], tmp_path, max_pixels=1000)
    inputs = [i for i, a in enumerate(args) if a == "-i"]
    assert len(inputs) == 3
    for at in inputs:
        before = args[at - 9 : at]
        assert before[before.index("-protocol_whitelist") + 1] == "file"
        assert before[before.index("-format_whitelist") + 1] == MOV
        assert before[before.index("-max_pixels") + 1] == "1000"
        assert args[at + 1] == f"file:{(tmp_path / 'clip.mp4').resolve()}"
    seeks = [float(args[i + 1]) for i, a in enumerate(args) if a == "-ss"]
    assert seeks == pytest.approx([1.0 - FRAME / 4, 20.0 - FRAME / 4, 40.0 - FRAME / 4])
    graph = args[args.index("-filter_complex") + 1]
    assert "concat=n=3" in graph and "scale=320:-2" in graph
    assert args[-1] == str(tmp_path / "thumb-%03d.jpg")


def test_an_unsafe_output_directory_is_refused(tmp_path: Path) -> None:
    source = FrameSource(tmp_path / "clip.mp4", MOV, 0, 640, 360, FRAME)
    with pytest.raises(ValueError, match="unsafe"):
        frame_args(source, [1.0], tmp_path / "50%;d")


def test_big_pictures_take_fewer_inputs_per_run() -> None:
    hd = FrameSource(Path("a"), MOV, 0, 1920, 1080, FRAME)
    eight_k = FrameSource(Path("a"), MOV, 0, 8192, 4608, FRAME)
    assert max_inputs(hd, 4096, 24) == 24
    assert 1 <= max_inputs(eight_k, 4096, 24) < 4
    assert max_inputs(eight_k, 0, 24) == 24  # no memory limit


# --- what the report says ---------------------------------------------------------------------


def test_pictures_are_named_at_their_findings_and_listed() -> None:
    findings = [
        finding("video.black", 20.0, 23.0),
        finding("audio.silence", 20.0, 23.0),
        finding("video.freeze", 40.0, 45.0),
    ]
    report = report_with(findings)
    shots = plan_shots(findings, frame_s=FRAME, duration_s=60.0, cap=24)
    names = ["a1-abcdef-thumb-00.jpg", "a1-abcdef-thumb-01.jpg"]
    out = with_pictures(report, shots, names, [b"\xff\xd8one", b"\xff\xd8two!"])
    assert [f.get("thumbnail") for f in out["findings"]] == [names[0], None, names[1]]
    assert out["artifacts"] == [
        {"name": names[0], "kind": "thumbnail", "content_type": "image/jpeg", "bytes": 5,
         "at_s": 20.0},
        {"name": names[1], "kind": "thumbnail", "content_type": "image/jpeg", "bytes": 6,
         "at_s": 40.0},
    ]  # fmt: skip
    assert out["thumbnails"]["status"] == "ok" and out["thumbnails"]["count"] == 2
    assert "thumbnail" not in report["findings"][0], "the input report is not changed"
    assert artifacts.listed(out) == names


def test_unavailable_thumbnails_say_why() -> None:
    out = unavailable(report_with([finding("video.black", 1.0, 4.0)]), 1, "FFmpeg said no")
    assert out["thumbnails"] == {
        "status": "unavailable",
        "count": 0,
        "wanted": 1,
        "message": "FFmpeg said no",
    }
    assert artifacts.listed(out) == []


# --- artefact names ---------------------------------------------------------------------------


def test_artefact_names_carry_their_attempt() -> None:
    name = artifacts.artifact_name(3, "0a1b2c", "thumb-07")
    assert name == "a3-0a1b2c-thumb-07.jpg"
    assert artifacts.name_attempt(name) == 3
    assert artifacts.content_type(name) == "image/jpeg"
    tags = {artifacts.attempt_tag() for _ in range(20)}
    assert len(tags) > 15 and all(len(t) == 6 for t in tags)


@pytest.mark.parametrize(
    "name",
    ["thumb.jpg", "a0-abcdef-thumb.jpg", "a1-abcdef-../x.jpg", "a1-abcdef-thumb.png",
     "a1-ABCDEF-thumb.jpg", "a1-abcdef-thumb.jpg/..", "../a1-abcdef-thumb.jpg", ""],
)  # fmt: skip
def test_malformed_artefact_names_belong_to_no_attempt(name: str) -> None:
    assert artifacts.name_attempt(name) is None
    with pytest.raises(RequestInvalid):
        artifacts.check_upload(name, 1, 10)


def test_an_upload_must_be_named_for_the_leases_attempt_and_small() -> None:
    artifacts.check_upload("a2-abcdef-thumb-00.jpg", 2, 10)
    with pytest.raises(RequestInvalid, match="attempt 1"):
        artifacts.check_upload("a1-abcdef-thumb-00.jpg", 2, 10)
    with pytest.raises(RequestInvalid, match="bytes"):
        artifacts.check_upload("a2-abcdef-thumb-00.jpg", 2, artifacts.MAX_ARTIFACT_BYTES + 1)


def test_listed_names_ignore_malformed_entries() -> None:
    report = {"artifacts": [{"name": "a1-abcdef-thumb-00.jpg"}, {"name": 5}, "x", {}]}
    assert artifacts.listed(report) == ["a1-abcdef-thumb-00.jpg"]
    assert artifacts.listed(None) == [] and artifacts.listed({"verdict": "passed"}) == []
