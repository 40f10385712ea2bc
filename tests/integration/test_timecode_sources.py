"""Source timecode read from real MOV/MP4/MXF files and findings placed on it, frame-accurately."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kickflow.engine import check_file
from kickflow.media.probing import ProbeLimits, probe
from kickflow.profiles import load_profile
from tests.fixtures_media import MediaFactory

# Every frame analysed, so a black segment starts at its first black frame's own timestamp.
FRAME_ACCURATE = """
extends = "ebu-r128"
name = "frame-accurate"
[video]
frame_accurate = true
"""


def clip(
    make: MediaFactory, name: str, rate: str, seconds: float, black: str, codec: list[str],
    timecode: str | None,
) -> Path:  # fmt: skip
    """testsrc2 at ``rate``, black where ``black`` holds ("between(t,a,b)"), tagged ``timecode``."""
    return make(
        name,
        ["-f", "lavfi", "-i", f"testsrc2=size=160x120:rate={rate}:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:r=48000:d={seconds}",
         "-vf", f"drawbox=c=black:t=fill:enable='{black}'", *codec,
         *(["-timecode", timecode] if timecode else []), "-shortest"],
    )  # fmt: skip


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
MPEG2_PCM = ["-c:v", "mpeg2video", "-q:v", "4", "-c:a", "pcm_s16le"]


def report_of(path: Path, tmp_path: Path, timecode_start: str | None = None) -> dict[str, Any]:
    spec = tmp_path / "frame-accurate.toml"
    spec.write_text(FRAME_ACCURATE)
    report = check_file(path, load_profile(str(spec)), timecode_start=timecode_start)
    data: dict[str, Any] = report.to_dict()
    return data


def black(report: dict[str, Any]) -> dict[str, Any]:
    found = [f for f in report["findings"] if f["check"] == "video.black"]
    assert len(found) == 1, report["findings"]
    return found[0]


@pytest.mark.parametrize(
    ("name", "codec"), [("tc10.mov", H264), ("tc10.mp4", H264), ("tc10.mxf", MPEG2_PCM)]
)
def test_ten_hour_start_at_25_fps(
    make_media: MediaFactory, tmp_path: Path, name: str, codec: list[str]
) -> None:
    path = clip(make_media, name, "25", 8, "between(t,4,6)", codec, "10:00:00:00")
    report = report_of(path, tmp_path)
    assert report["timecode"]["start"] == "10:00:00:00"
    assert report["timecode"]["source"] == "container"
    assert report["timecode"]["drop_frame"] is False
    f = black(report)
    assert f["start_s"] == pytest.approx(4.0, abs=1e-3)
    assert f["timecode_start"] == "10:00:04:00"
    assert f["timecode"] == "00:00:04:00"


@pytest.mark.parametrize(
    ("name", "codec"), [("df.mov", H264), ("df.mp4", H264), ("df.mxf", MPEG2_PCM)]
)
def test_the_issue_example_drop_frame_at_29_97(
    make_media: MediaFactory, tmp_path: Path, name: str, codec: list[str]
) -> None:
    """Black from 7.20 s: its first black frame is frame 216 (7.2072 s), 00:59:57;06."""
    path = clip(make_media, name, "30000/1001", 10, "between(t,7.2,8.5)", codec, "00:59:50;00")
    report = report_of(path, tmp_path)
    assert report["timecode"] == {
        "start": "00:59:50;00",
        "frame_rate": 29.97,
        "drop_frame": True,
        "rate_label": "29.97 DF",
        "source": "container",
    }
    f = black(report)
    assert f["start_s"] == pytest.approx(216 * 1001 / 30000, abs=1e-4)
    assert f["timecode_start"] == "00:59:57;06"
    # 8.5 s: the last black frame is 254 (8.4751 s); black ends at frame 255 (8.5085 s).
    assert f["timecode_end"] == "00:59:58;15"


def test_findings_across_a_dropped_minute_at_59_94(
    make_media: MediaFactory, tmp_path: Path
) -> None:
    """From 00:00:59;00, one second later is minute 1, whose labels ;00–;03 do not exist."""
    path = clip(make_media, "df60.mov", "60000/1001", 3, "between(t,1,2)", H264, "00:00:59;00")
    report = report_of(path, tmp_path)
    assert report["timecode"]["start"] == "00:00:59;00"
    assert report["timecode"]["rate_label"] == "59.94 DF"
    f = black(report)
    assert f["start_s"] == pytest.approx(60 * 1001 / 60000, abs=1e-4)  # frame 60: 1.001 s
    assert f["timecode_start"] == "00:01:00;04"


def test_override_replaces_the_file_timecode(make_media: MediaFactory, tmp_path: Path) -> None:
    path = clip(make_media, "tc10.mov", "25", 8, "between(t,4,6)", H264, "10:00:00:00")
    report = report_of(path, tmp_path, timecode_start="01:00:00:00")
    assert report["timecode"]["source"] == "override"
    assert black(report)["timecode_start"] == "01:00:04:00"


def test_a_file_without_timecode_starts_at_zero(make_media: MediaFactory) -> None:
    path = clip(make_media, "notc.mov", "30000/1001", 2, "between(t,0,0)", H264, None)
    assert probe(path, path.stat().st_size, ProbeLimits()).timecode is None


@pytest.mark.parametrize(
    ("name", "codec"), [("df.mov", H264), ("df.mp4", H264), ("df.mxf", MPEG2_PCM)]
)
def test_probe_reads_the_start_timecode(
    make_media: MediaFactory, name: str, codec: list[str]
) -> None:
    path = clip(make_media, name, "30000/1001", 10, "between(t,7.2,8.5)", codec, "00:59:50;00")
    assert probe(path, path.stat().st_size, ProbeLimits()).timecode == "00:59:50;00"
