"""``kickflow check --timecode-start``: findings at source timecode; a bad one is one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.cli_helpers import kickflow
from tests.fixtures_media import MediaFactory


@pytest.fixture(scope="module")
def df_clip(make_media: MediaFactory) -> Path:
    """6 s at 29.97 tagged 00:59:50;00, black from 2 s to 4 s."""
    return make_media(
        "cli-df.mov",
        ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30000/1001:d=6",
         "-f", "lavfi", "-i", "sine=f=440:r=48000:d=6",
         "-vf", "drawbox=c=black:t=fill:enable='between(t,2,4)'",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-timecode", "00:59:50;00"],
    )  # fmt: skip


def black_finding(stdout: str) -> dict[str, object]:
    report = json.loads(stdout)
    found: dict[str, object] = next(f for f in report["findings"] if f["check"] == "video.black")
    return found


def test_text_report_shows_the_source_timecode(df_clip: Path) -> None:
    done = kickflow("check", str(df_clip))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Timecode:  00:59:50;00 at 29.97 fps, drop-frame (from the file)" in done.stdout
    # The black from 2.0 s: the 5 fps sample at 2.0 s holds frame 60 (2.002 s), 00:59:52;00.
    assert "00:59:52;00" in done.stdout


def test_override_moves_every_finding(df_clip: Path) -> None:
    done = kickflow("check", str(df_clip), "--timecode-start", "10:00:00;00", "--json", "-")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["timecode"]["start"] == "10:00:00;00"
    assert report["timecode"]["source"] == "override"
    assert black_finding(done.stdout)["timecode_start"] == "10:00:02;00"
    env = kickflow(
        "check", str(df_clip), "--json", "-", env={"KICKFLOW_TIMECODE_START": "01:00:00:00"}
    )
    assert black_finding(env.stdout)["timecode_start"] == "01:00:02:00"  # non-drop, as written


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("10:00:00", "is not a timecode"),
        ("25:00:00:00", "hours go to 23"),
        ("00:01:00;00", "does not exist in drop-frame"),  # only known at the file's 29.97
        ("00:00:00:30", "counts 0–29"),
    ],
)
def test_a_bad_timecode_is_one_sentence_and_exit_2(df_clip: Path, value: str, words: str) -> None:
    done = kickflow("check", str(df_clip), "--timecode-start", value)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kickflow: "), done.stderr
    assert words in lines[0] and "Traceback" not in done.stderr
