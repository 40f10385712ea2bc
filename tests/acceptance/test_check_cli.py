"""``kickflow check`` as a user runs it: reports, exit codes, and one sentence for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.cli_helpers import kickflow
from tests.fixtures_media import MediaFactory, run_ffmpeg_cli

# The clean clip's two tones at 0.1 amplitude measure about -20.6 LUFS.
CLIP_SPEC = """
extends = "web"
name = "clip-spec"
[loudness]
target_lufs = -20.5
tolerance_below_lu = 1.5
tolerance_above_lu = 1.5
max_true_peak_dbtp = -1.0
"""


def test_json_report_of_a_clean_file(clean_clip: Path, tmp_path: Path) -> None:
    html, spec = tmp_path / "report.html", tmp_path / "clip-spec.toml"
    spec.write_text(CLIP_SPEC)
    done = kickflow(
        "check", str(clean_clip), "--profile", str(spec), "--json", "-", "--html", str(html)
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "passed", report["findings"]
    assert report["schema_version"] == 3
    assert report["input"]["name"] == "clean.mp4"
    assert report["input"]["size_bytes"] == clean_clip.stat().st_size
    assert report["profile"]["name"] == "clip-spec"
    assert report["media"]["video"][0]["width"] == 640
    assert report["loudness"]["integrated_lufs"] is not None
    ids = {c["id"] for c in report["checks"]}
    assert {"audio.loudness", "video.black", "video.levels", "audio.clipping"} <= ids
    text = html.read_text()
    assert "<svg" in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")


def test_human_summary_and_failed_exit_code(media_dir: Path) -> None:
    black = media_dir / "cli-black.mp4"
    if not black.exists():
        run_ffmpeg_cli(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:d=12",
                        "-f", "lavfi", "-i", "sine=f=440:r=48000:d=12",
                        "-vf", "drawbox=c=black:t=fill:enable='between(t,4,8)'",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                        str(black)])  # fmt: skip
    done = kickflow("check", str(black), "--profile", "ebu-r128")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed" in done.stdout.lower()
    assert "00:00:04:00" in done.stdout  # the black segment's timecode at 25 fps


def test_strict_turns_needs_review_into_exit_1(clean_clip: Path, tmp_path: Path) -> None:
    spec = tmp_path / "review.toml"
    # Loudness out of range, but only as a warning: needs_review.
    spec.write_text(
        CLIP_SPEC.replace("-20.5", "-30.0") + '[severity]\n"audio.loudness" = "warning"\n'
    )
    normal = kickflow("check", str(clean_clip), "--profile", str(spec), "--json", "-")
    assert normal.returncode == 0, normal.stderr
    assert json.loads(normal.stdout)["verdict"] == "needs_review"
    strict = kickflow("check", str(clean_clip), "--profile", str(spec), "--strict", "--json", "-")
    assert strict.returncode == 1


def _bad_inputs(tmp: Path, clean: Path) -> dict[str, Path]:
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "notes.mp4").write_text("these are not the frames you are looking for\n")
    data = clean.read_bytes()
    (tmp / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (tmp / "list.m3u8").write_text("#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n")
    (tmp / "innocent.mp4").write_text("ffconcat version 1.0\nfile '/etc/passwd'\n")
    return {
        "missing": tmp / "nope.mp4",
        "directory": tmp,
        "empty": tmp / "empty.mp4",
        "text": tmp / "notes.mp4",
        "truncated": tmp / "truncated.mp4",
        "hls": tmp / "list.m3u8",
        "ffconcat": tmp / "innocent.mp4",
    }


@pytest.mark.parametrize(
    "case", ["missing", "directory", "empty", "text", "truncated", "hls", "ffconcat"]
)
def test_bad_input_exits_2_with_one_sentence(case: str, clean_clip: Path, tmp_path: Path) -> None:
    path = _bad_inputs(tmp_path, clean_clip)[case]
    done = kickflow("check", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kickflow: "), done.stderr
    assert "Traceback" not in done.stderr


def test_audio_only_file_with_a_video_profile_is_a_finding(make_media: MediaFactory) -> None:
    wav = make_media("tone.wav", ["-f", "lavfi", "-i", "sine=f=1000:d=3"])
    done = kickflow("check", str(wav), "--profile", "ebu-r128", "--json", "-")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)["findings"]
    assert any(f["check"] == "container.streams" and f["severity"] == "error" for f in findings)


def test_invalid_profile_names_the_key(clean_clip: Path, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "mine"\n[loudness]\ntarget_lufs = "loud"\nmax_true_peak_dbtp = -1\n')
    done = kickflow("check", str(clean_clip), "--profile", str(spec))
    assert done.returncode == 2
    assert "target_lufs" in done.stderr


def test_doctor_names_the_binary() -> None:
    done = kickflow("doctor")
    assert done.returncode == 0, done.stderr
    assert "ffmpeg" in done.stdout and "PyAV" in done.stdout
