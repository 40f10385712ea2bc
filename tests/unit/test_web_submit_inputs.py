"""The Submit page's subtitle files and source timecode, in-process on the fake store: the form
offers both; without JavaScript the files go with the media as the API pairs them and the
timecode with every job; a bad subtitle file or timecode is the form again with one sentence,
what was typed kept, and nothing queued or stored."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.web import Browser, WebRig, web_rig

BINARY = bytes(range(256)) * 4
SRT = b"1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n"
NOTES = b"Delivery notes.\nEpisode 3 is late.\n"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path) as r:
        yield r


@pytest.fixture
def member(rig: WebRig) -> Browser:
    person = rig.person("member@studio.test", "member")
    browser = rig.browser()
    assert browser.sign_in(person).status_code == 303
    browser.get("/submit")
    return browser


def post_form(
    browser: Browser,
    media: list[str],
    subtitles: list[tuple[str, bytes]],
    **fields: str,
) -> httpx.Response:
    """The whole form without JavaScript: the token and options first, then the files."""
    parts = [("file", (name, BINARY, "application/octet-stream")) for name in media]
    parts += [("subtitles", (name, body, "application/x-subrip")) for name, body in subtitles]
    data = {"csrf_token": browser.csrf, **fields}
    return browser.client.request("POST", "/submit", data=data, files=parts)


def error_of(page: httpx.Response) -> str:
    found = re.search(r'id="submit-error">([^<]+)<', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


def test_the_form_offers_subtitle_files_and_a_source_timecode(member: Browser) -> None:
    page = member.get("/submit").text
    assert re.search(r'<input type="file" id="s-subtitles" name="subtitles" multiple', page)
    assert 'name="timecode_start"' in page and 'placeholder="10:00:00:00"' in page
    assert "up to 8 per media file and 20 MB each" in page


def test_subtitles_and_the_timecode_go_with_their_media_files(rig: WebRig, member: Browser) -> None:
    reply = post_form(
        member,
        ["EP01.mov", "EP02.mov"],
        [("EP01.en.srt", SRT), ("EP02.fr.srt", SRT)],
        timecode_start="10:00:00:00",
    )
    assert reply.status_code == 303, reply.text
    jobs = {j.file_name: j for j in rig.store.list_jobs(rig.org).jobs}
    assert {n: [s.name for s in j.inputs.subtitles] for n, j in jobs.items()} == {
        "EP01.mov": ["EP01.en.srt"],
        "EP02.mov": ["EP02.fr.srt"],
    }
    assert {j.inputs.timecode_start for j in jobs.values()} == {"10:00:00:00"}


def test_a_path_job_from_the_form_keeps_the_timecode(rig: WebRig, member: Browser) -> None:
    media = rig.api.media / "episode.mxf"
    media.write_bytes(BINARY)
    reply = member.post("/submit/path", {"path": str(media), "timecode_start": "01:00:00;00"})
    assert reply.status_code == 303
    [job] = rig.store.list_jobs(rig.org).jobs
    assert job.inputs.timecode_start == "01:00:00;00"


def stored_uploads(rig: WebRig) -> list[Path]:
    uploads = rig.api.services.settings.data_dir / "uploads"
    return [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []


@pytest.mark.parametrize(
    ("subtitle", "fields", "sentence"),
    [
        (("EP01.en.srt", NOTES), {}, "Subtitle files: EP01.en.srt is not a subtitle file"),
        (("EP03.en.srt", SRT), {}, "Subtitle files: EP03.en.srt goes with none of the media files"),
        (
            ("EP01.en.srt", SRT),
            {"timecode_start": "25:00:00:00"},
            "Source timecode: '25:00:00:00' is not a timecode: hours go to 23",
        ),
    ],
)
def test_a_bad_subtitle_file_or_timecode_is_one_sentence_on_the_form(
    rig: WebRig,
    member: Browser,
    subtitle: tuple[str, bytes],
    fields: dict[str, str],
    sentence: str,
) -> None:
    reply = post_form(member, ["EP01.mov", "EP02.mov"], [subtitle], project="pilot", **fields)
    assert reply.status_code == 422
    assert error_of(reply).startswith(sentence), error_of(reply)
    assert 'value="pilot"' in reply.text, "what was typed is kept"
    if "timecode_start" in fields:
        assert 'value="25:00:00:00"' in reply.text
    assert rig.store.list_jobs(rig.org).jobs == [] and stored_uploads(rig) == []
