"""``kickflow check FILE --subtitles A --subtitles B``: each subtitle file is read into the
report under its name and judged at its cues; a bad one is one sentence and exit 2 before the
media is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.cli_helpers import kickflow
from tests.fixtures_media import av_clip

SRT = (
    "1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:03,000 --> 00:00:03,100\nQuick.\n\n"
)
VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nBonjour.\n"


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-subtitles")
    av_clip(folder / "EP01.mov", 4, size="320x240")
    (folder / "EP01.en.srt").write_text(SRT, encoding="utf-8")
    (folder / "EP01.fr.vtt").write_text(VTT, encoding="utf-8")
    return folder


def test_every_subtitle_file_is_in_the_report_and_judged_at_its_cues(delivery: Path) -> None:
    done = kickflow(
        "check", str(delivery / "EP01.mov"), "--json", "-",
        "--subtitles", str(delivery / "EP01.en.srt"), "-s", str(delivery / "EP01.fr.vtt"),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    files = {f["name"]: f for f in report["subtitles"] if f["stream_index"] is None}
    assert {n: (f["format"], f["cue_count"], f["error"]) for n, f in files.items()} == {
        "EP01.en.srt": ("srt", 2, None),
        "EP01.fr.vtt": ("vtt", 1, None),
    }
    short = [f for f in report["findings"] if f["check"] == "subtitle.duration"]
    assert [f["message"].split(":")[0] for f in short] == ["EP01.en.srt cue 2 “Quick.”"]
    assert str(delivery) not in done.stdout, "reports name the files, never their directory"


@pytest.mark.parametrize(
    ("name", "content", "sentence"),
    [
        ("notes.srt", "Delivery notes.\nEpisode 3 is late.\n", "notes.srt is not a subtitle file"),
        ("empty.srt", "", "empty.srt is empty (0 bytes)"),
        ("big.srt", SRT * 50, "big.srt is 0.0 MB; subtitle files are accepted up to 0.0 MB"),
    ],
)
def test_a_bad_subtitle_file_is_one_sentence_before_the_media_is_opened(
    tmp_path: Path, name: str, content: str, sentence: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    # The media does not exist: the subtitle file's sentence shows it was checked first.
    done = kickflow(
        "check", str(tmp_path / "missing.mov"), "--subtitles", str(tmp_path / name),
        env={"KICKFLOW_MAX_SUBTITLE_MB": "0.001"},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"kickflow: {sentence}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert str(tmp_path) not in done.stderr


def test_a_missing_subtitle_file_or_too_many_is_one_sentence(delivery: Path) -> None:
    media = str(delivery / "EP01.mov")
    missing = kickflow("check", media, "-s", str(delivery / "EP01.de.srt"))
    assert missing.returncode == 2
    assert missing.stderr.strip().rstrip(".") == "kickflow: EP01.de.srt: no such file"
    srt = str(delivery / "EP01.en.srt")
    many = kickflow("check", media, "-s", srt, "-s", srt, env={"KICKFLOW_MAX_SUBTITLE_FILES": "1"})
    assert many.returncode == 2
    assert many.stderr.strip().rstrip(".") == (
        "kickflow: 2 subtitle files: a check takes at most 1 (KICKFLOW_MAX_SUBTITLE_FILES)"
    )
