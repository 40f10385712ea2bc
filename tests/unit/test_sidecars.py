"""Pairing subtitle files with the media files of one upload (``kickflow.jobs.sidecars``): by
the media file's name without its extension, case ignored, the longest name winning; with one
media file every subtitle file goes with it."""

from __future__ import annotations

import pytest

from kickflow.config import Settings
from kickflow.errors import SubtitleRefused
from kickflow.jobs.sidecars import media_for, pair

EPISODES = ["EP01.mov", "EP01_v2.mov", "EP010.mxf", "Pilot Final.mov"]


@pytest.mark.parametrize(
    ("subtitle", "owner"),
    [
        ("EP01.srt", 0),
        ("EP01.en.srt", 0),
        ("ep01-fr.vtt", 0),
        ("EP01_v2.en.srt", 1),  # the longest fitting name wins
        ("EP01_v3.en.srt", 0),  # "EP01" then "_": still the first episode
        ("EP010.de.ttml", 2),  # not EP01's: "0" is no separator
        ("pilot final.en.srt", 3),
        ("EP011.en.srt", None),
        ("EP0.en.srt", None),
        ("notes.srt", None),
    ],
)
def test_a_subtitle_file_goes_with_the_media_file_its_name_starts_with(
    subtitle: str, owner: int | None
) -> None:
    assert media_for(subtitle, EPISODES) == owner


def test_one_media_file_takes_every_subtitle_file_whatever_its_name() -> None:
    assert media_for("anything.srt", ["EP01.mov"]) == 0
    settings = Settings(max_subtitle_files=3)
    assert pair(["EP01.mov"], ["a.srt", "b.vtt"], settings) == [[0, 1]]


def test_pairing_keeps_the_submitted_order_and_checks_each_jobs_count() -> None:
    settings = Settings(max_subtitle_files=2)
    names = ["EP01_v2.fr.srt", "EP01.en.srt", "EP01.fr.srt", "EP010.srt"]
    assert pair(EPISODES, names, settings) == [[1, 2], [0], [3], []]
    with pytest.raises(SubtitleRefused, match=r"^3 subtitle files for EP01\.mov: a job takes"):
        pair(EPISODES, [*names, "EP01.de.srt"], settings)


def test_a_subtitle_file_that_fits_none_names_itself_and_an_example() -> None:
    with pytest.raises(SubtitleRefused) as refused:
        pair(["EP01.mov", "EP02.mov"], ["EP03.en.srt"], Settings())
    assert refused.value.message == (
        "EP03.en.srt goes with none of the media files (EP01.mov, EP02.mov): name a subtitle "
        "file after its video, e.g. EP01.en.srt."
    )
