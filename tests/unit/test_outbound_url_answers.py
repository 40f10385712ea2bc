"""How the url source reads a server's answer (status, type, size, file name): pure, on
httpx responses built in the test."""

from __future__ import annotations

import httpx
import pytest

from kickflow.errors import (
    FileTooLarge,
    KickflowError,
    UrlAccessDenied,
    UrlFailed,
    UrlNotFound,
    UrlNotMedia,
    UrlUnreachable,
)
from kickflow.jobs.url_source import declared_size, file_name, judge, refuse_web_page
from kickflow.net import Limits, Reply
from kickflow.net.client import Deadline

URL = "https://media.example/deliveries/EP%2001%20final.mxf"


def reply(
    status: int = 200, headers: dict[str, str] | None = None, url: str = URL, cap: int | None = None
) -> Reply:
    response = httpx.Response(status, headers=headers or {})
    return Reply(response, httpx.URL(url), "shown-url", Limits(max_bytes=cap), Deadline(60, ""))


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({}, "EP 01 final.mxf"),
        ({"Content-Disposition": 'attachment; filename="ep01.mov"'}, "ep01.mov"),
        ({"Content-Disposition": "attachment; filename=ep01.mov"}, "ep01.mov"),
        (
            {"Content-Disposition": "attachment; filename=x.mov; filename*=UTF-8''%C3%A9p01.mov"},
            "\u00e9p01.mov",
        ),
        ({"Content-Disposition": 'attachment; filename="../../etc/passwd"'}, "passwd"),
        ({"Content-Disposition": 'attachment; filename="C:\\\\temp\\\\a.wav"'}, "a.wav"),
        ({"Content-Disposition": 'attachment; filename=".hidden.wav"'}, "hidden.wav"),
        ({"Content-Disposition": 'attachment; filename=".."'}, "EP 01 final.mxf"),
        ({"Content-Disposition": "inline"}, "EP 01 final.mxf"),
    ],
)
def test_the_file_name_is_plain_and_prefers_content_disposition(
    headers: dict[str, str], name: str
) -> None:
    assert file_name(reply(headers=headers)) == name


@pytest.mark.parametrize(
    "url", ["https://media.example/", "https://media.example/%2E%2E", "https://media.example/%00"]
)
def test_a_url_without_a_usable_name_gives_download(url: str) -> None:
    assert file_name(reply(url=url)) == "download"


def test_a_long_name_is_cut_to_the_storage_limit_keeping_its_extension() -> None:
    name = file_name(reply(url="https://media.example/" + "\u00e9" * 300 + ".wav"))
    assert name.endswith(".wav")
    assert len(name.encode("utf-8")) <= 255


def test_the_size_comes_from_content_range_on_a_ranged_answer() -> None:
    assert declared_size(reply(206, {"Content-Range": "bytes 0-0/123456"})) == 123456
    assert declared_size(reply(416, {"Content-Range": "bytes */0"})) == 0
    assert declared_size(reply(206, {"Content-Range": "bytes 0-0/*"})) is None
    assert declared_size(reply(200, {"Content-Length": "42"})) == 42
    assert declared_size(reply(200)) is None


@pytest.mark.parametrize(
    ("status", "kind", "permanent"),
    [
        (404, UrlNotFound, True),
        (410, UrlNotFound, True),
        (401, UrlAccessDenied, True),
        (403, UrlAccessDenied, True),
        (429, UrlUnreachable, False),
        (503, UrlUnreachable, False),
        (400, UrlFailed, True),
        (304, UrlFailed, True),
    ],
)
def test_error_statuses_are_sentences_that_say_whether_retrying_helps(
    status: int, kind: type[KickflowError], permanent: bool
) -> None:
    with pytest.raises(kind, match=rf"^shown-url: .*HTTP {status}") as caught:
        judge(reply(status))
    assert caught.value.permanent is permanent


@pytest.mark.parametrize("kind", ["text/html", "text/html; charset=utf-8", "application/xhtml+xml"])
def test_a_web_page_is_refused(kind: str) -> None:
    with pytest.raises(
        UrlNotMedia, match=r"^shown-url: the URL gives a web page, not a media file$"
    ):
        refuse_web_page(reply(headers={"Content-Type": kind}))


def test_media_types_pass() -> None:
    refuse_web_page(reply(headers={"Content-Type": "application/octet-stream"}))
    refuse_web_page(reply(headers={"Content-Type": "video/quicktime"}))


def test_a_declared_size_over_the_cap_is_refused_before_reading() -> None:
    with pytest.raises(FileTooLarge, match=r"larger than the 1 MB limit"):
        reply(cap=1_000_000).check_size(1_000_001)
    reply(cap=1_000_000).check_size(1_000_000)
