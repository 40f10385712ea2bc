"""The Submit page in-process on the fake store: the form (profiles with the organisation's
own, the role's priority range, the local path only where path sources are allowed), the
no-JavaScript posts (files streamed, a local path) through the API's own functions, and bad
input (not media, too large, priority out of range, no file, a full queue, a path outside the
roots): one sentence, the API's status, what was typed kept, and no job. Also the upload sniff
on the API itself and the cookie + X-CSRF-Token upload that submit.js makes."""

from __future__ import annotations

import html
import io
import re
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kickflow.profiles import catalog
from kickflow.web.pages.submit import api_options, human_size
from tests.fakes.web import Browser, WebRig, web_rig

LOUD = 'extends = "ebu-r128"\ndescription = "Loud web masters"\n\n[loudness]\ntarget_lufs = -9.0\n'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BINARY = bytes(range(256)) * 4  # no known signature, not text: the worker's probe decides


def wav_bytes(frames: int = 4800) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\0\0" * frames)
    return out.getvalue()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path) as r:
        yield r


def signed_in(rig: WebRig, role: str) -> Browser:
    person = rig.person(f"{role}@studio.test", role)  # type: ignore[arg-type]
    browser = rig.browser()
    assert browser.sign_in(person).status_code == 303
    browser.get("/submit" if role != "viewer" else "/jobs")  # the page's CSRF token
    return browser


@pytest.fixture
def member(rig: WebRig) -> Browser:
    return signed_in(rig, "member")


def upload(
    browser: Browser,
    files: list[tuple[str, bytes]],
    csrf: str | None = None,
    **fields: str,
) -> httpx.Response:
    """The form as a browser without JavaScript sends it: the token first, then the options,
    then the files (httpx puts fields before files)."""
    data = {"csrf_token": browser.csrf if csrf is None else csrf, **fields}
    parts = [("file", (name, content, "application/octet-stream")) for name, content in files]
    return browser.client.request("POST", "/submit", data=data, files=parts)


def error_of(page: httpx.Response) -> str:
    found = re.search(r'id="submit-error">([^<]+)<', page.text)
    assert found, page.text
    return html.unescape(found.group(1))


def jobs_of(rig: WebRig) -> list[str]:
    return [j.file_name for j in rig.store.list_jobs(rig.org).jobs]


def stored_uploads(rig: WebRig) -> list[Path]:
    root = rig.api.services.settings.data_dir / "uploads"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- the form -----------------------------------------------------------------------------------


def test_the_form_lists_profiles_and_the_role_s_priority_range(rig: WebRig) -> None:
    catalog.save_profile(rig.store, rig.org, "house", LOUD, None)
    member = signed_in(rig, "member")
    page = member.get("/submit")
    assert page.status_code == 200
    assert '<option value="house">house (your organisation\'s) — Loud web masters' in page.text
    assert '<option value="ebu-r128" selected>' in page.text, "the default profile first"
    assert 'min="-10" max="10"' in page.text, "KICKFLOW_MEMBER_MAX_PRIORITY of the rig"
    assert 'name="path"' in page.text, "path sources are allowed in the rig"
    assert 'enctype="multipart/form-data"' in page.text and "/static/submit.js" in page.text
    first_field = re.search(
        r'<form method="post" action="/submit"[^>]*>\s*<input ([^>]+)>', page.text
    )
    assert first_field and 'name="csrf_token"' in first_field.group(1), "the token comes first"
    admin = signed_in(rig, "admin")
    assert 'min="-100" max="100"' in admin.get("/submit").text


def test_no_local_path_field_without_allowed_roots(tmp_path: Path) -> None:
    with web_rig(tmp_path, allowed_roots="") as rig:
        page = signed_in(rig, "member").get("/submit")
        assert 'name="path"' not in page.text and "/submit/path" not in page.text


def test_viewers_and_strangers_cannot_submit(rig: WebRig) -> None:
    viewer = signed_in(rig, "viewer")
    assert viewer.get("/submit").status_code == 403
    assert upload(viewer, [("a.wav", wav_bytes())]).status_code == 403
    stranger = rig.browser()
    assert stranger.get("/submit").status_code == 303
    assert upload(stranger, [("a.wav", wav_bytes())], csrf="x").status_code == 401
    assert jobs_of(rig) == [] and stored_uploads(rig) == []


# --- without JavaScript: files -------------------------------------------------------------------


def test_files_become_jobs_and_the_jobs_page_says_so(rig: WebRig, member: Browser) -> None:
    reply = upload(
        member, [("a.wav", wav_bytes()), ("b.mov", BINARY)], profile="ebu-r128", project="pilot"
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/jobs"
    page = member.get("/jobs")
    assert "2 files queued for checking: a.wav, b.mov." in page.text
    jobs = rig.store.list_jobs(rig.org).jobs
    assert sorted(j.file_name for j in jobs) == ["a.wav", "b.mov"]
    assert {(j.source_type, j.project, j.profile) for j in jobs} == {
        ("upload", "pilot", "ebu-r128")
    }
    for job in jobs:
        assert rig.api.services.storage.stat(job.source_ref).size > 0, "stored and committed"


def test_the_csrf_token_is_checked_before_anything_is_stored(rig: WebRig, member: Browser) -> None:
    for token in ("", "not-the-token"):
        reply = upload(member, [("a.wav", wav_bytes())], csrf=token)
        assert reply.status_code == 403
    other_site = member.client.request(
        "POST",
        "/submit",
        data={"csrf_token": member.csrf},
        files=[("file", ("a.wav", wav_bytes()))],
        headers={"Origin": "https://evil.test"},
    )
    assert other_site.status_code == 403
    assert jobs_of(rig) == [] and stored_uploads(rig) == []


@pytest.mark.parametrize(
    ("name", "content", "status", "sentence"),
    [
        ("notes.txt", b"These are my notes.\nNot a film.\n", 415,
         "Notes.txt is not a media file: it contains text."),
        ("still.png", PNG, 415, "Refused: still.png is a PNG image, not a programme"),
        ("list.m3u8", b"#EXTM3U\n#EXTINF:10,\nseg1.ts\n", 415,
         "Refused: list.m3u8 is an HLS playlist, which can make FFmpeg open other files"),
        ("empty.wav", b"", 400, "File 'empty.wav' is empty (0 bytes)"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_media_is_refused_with_one_sentence(
    rig: WebRig, member: Browser, name: str, content: bytes, status: int, sentence: str
) -> None:
    reply = upload(member, [("good.wav", wav_bytes()), (name, content)], project="kept")
    assert reply.status_code == status
    assert error_of(reply).startswith(sentence)
    assert 'value="kept"' in reply.text, "what was typed stays"
    assert jobs_of(rig) == [] and stored_uploads(rig) == [], "all or nothing"


def test_bad_options_keep_what_was_typed(rig: WebRig, member: Browser) -> None:
    reply = upload(member, [("a.wav", wav_bytes())], profile="web", project="pilot", priority="11")
    assert reply.status_code == 422
    assert error_of(reply).startswith("Priority: 11 is outside the range your role (member)")
    assert 'value="pilot"' in reply.text and 'value="11"' in reply.text
    assert '<option value="web" selected>' in reply.text
    unknown = upload(member, [("a.wav", wav_bytes())], profile="nope", project="pilot")
    assert unknown.status_code == 400
    assert error_of(unknown).startswith("Profile: unknown profile 'nope'")
    assert 'value="pilot"' in unknown.text
    assert jobs_of(rig) == []


def test_no_file_chosen(rig: WebRig, member: Browser) -> None:
    # What a browser sends for a file input left empty: a part with filename="" (httpx would
    # leave the filename out, so the body is written by hand).
    body = (
        f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{member.csrf}\r\n'
        '--b\r\nContent-Disposition: form-data; name="project"\r\n\r\npilot\r\n'
        '--b\r\nContent-Disposition: form-data; name="file"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    reply = member.client.request("POST", "/submit", content=body.encode(), headers=headers)
    assert reply.status_code == 400
    assert error_of(reply) == "Choose at least one file to upload (or give a local path)."
    assert 'value="pilot"' in reply.text


def test_a_too_large_upload_gets_413_and_the_page(tmp_path: Path) -> None:
    with web_rig(tmp_path, max_upload_mb=1) as rig:
        member = signed_in(rig, "member")
        page = member.get("/submit")
        assert 'data-upload-limit="1048576"' in page.text and "1.0 MB" in page.text
        reply = upload(member, [("big.wav", wav_bytes(700_000))], project="big")
        assert reply.status_code == 413
        assert error_of(reply) == "Upload larger than the limit of 1 MB."
        assert 'value="big"' in reply.text
        assert jobs_of(rig) == [] and stored_uploads(rig) == []


def test_an_upload_larger_than_a_json_body_but_within_the_limit_goes_through(
    tmp_path: Path,
) -> None:
    with web_rig(tmp_path, max_upload_mb=3) as rig:
        member = signed_in(rig, "member")
        reply = upload(member, [("long.wav", wav_bytes(1_000_000))])  # 2 MB: over 1 MB JSON
        assert reply.status_code == 303, reply.text
        assert jobs_of(rig) == ["long.wav"]


def test_a_full_queue_is_429(tmp_path: Path) -> None:
    with web_rig(tmp_path, org_max_queued=1) as rig:
        rig.api.add("waiting.mov")
        member = signed_in(rig, "member")
        reply = upload(member, [("a.wav", wav_bytes())])
        assert reply.status_code == 429
        assert error_of(reply).startswith("Queue limit reached: your organisation has 1 queued")
        assert jobs_of(rig) == ["waiting.mov"]


# --- without JavaScript: a local path ------------------------------------------------------------


def test_a_local_path_becomes_a_job(rig: WebRig, member: Browser) -> None:
    media = rig.api.media / "episode.mxf"
    media.write_bytes(BINARY)
    reply = member.post("/submit/path", {"path": str(media), "project": "pilot", "priority": ""})
    assert reply.status_code == 303
    assert "1 file queued for checking: episode.mxf." in member.get("/jobs").text
    [job] = rig.store.list_jobs(rig.org).jobs
    assert (job.source_type, job.source_ref, job.project) == ("path", str(media), "pilot")


def test_a_path_outside_the_roots_is_refused_and_kept(rig: WebRig, member: Browser) -> None:
    reply = member.post("/submit/path", {"path": "/etc/passwd", "project": "pilot"})
    assert reply.status_code == 400
    assert error_of(reply) == "/etc/passwd is outside the allowed roots."
    assert 'value="/etc/passwd"' in reply.text and 'value="pilot"' in reply.text
    blank = member.post("/submit/path", {"path": "  "})
    assert blank.status_code == 400 and error_of(blank) == "Give the path of a file to check."
    assert member.post("/submit/path", {"path": "/etc/passwd"}, csrf=False).status_code == 403
    assert jobs_of(rig) == []


# --- the API: what submit.js sends, and the upload sniff ------------------------------------------


def test_the_api_takes_the_cookie_with_the_csrf_header(rig: WebRig, member: Browser) -> None:
    files = [("file", ("a.wav", wav_bytes()))]
    without = member.client.request("POST", "/api/qc/jobs", files=files)
    assert without.status_code == 403 and jobs_of(rig) == []
    made = member.client.request(
        "POST",
        "/api/qc/jobs",
        files=files,
        data={"project": "xhr"},
        headers={"X-CSRF-Token": member.csrf},
    )
    assert made.status_code == 201, made.text
    assert made.json()["fileName"] == "a.wav" and made.json()["project"] == "xhr"


def test_the_api_refuses_what_is_not_media_at_upload(rig: WebRig) -> None:
    for name, content, fragment in (
        ("notes.txt", b"hello there\n", "it contains text"),
        ("still.png", PNG, "is a PNG image"),
        ("x.m3u8", b"#EXTM3U\n", "HLS playlist"),
    ):
        reply = rig.api.post("/api/qc/jobs", role="member", files=[("file", (name, content))])
        assert reply.status_code == 415, reply.text
        assert reply.json()["error"]["code"] == "not_media"
        assert fragment in reply.json()["error"]["message"]
    # A run of printable bytes without a space or a line break may be headerless audio.
    raw = rig.api.post("/api/qc/jobs", role="member", files=[("file", ("raw.pcm", b"x" * 100))])
    assert raw.status_code == 201
    assert jobs_of(rig) == ["raw.pcm"]


# --- pure parts ----------------------------------------------------------------------------------


def test_form_fields_become_api_options() -> None:
    fields = {"csrf_token": "t", "profile": "web", "project": " ", "priority": "3", "path": "/x"}
    assert api_options(fields) == {"profile": "web", "priority": "3"}
    assert [human_size(n) for n in (512, 1536, 10 * 1024**3, 1024**4 * 3)] == [
        "512 bytes",
        "1.5 KB",
        "10 GB",
        "3.0 TB",
    ]
