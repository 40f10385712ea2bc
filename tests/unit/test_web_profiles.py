"""The Profiles pages and the API's use of organisation profiles, in-process on the fake
store: reading (every role), uploading and deleting (admins), bad uploads (422, the text kept,
nothing stored), tenant scoping, and a job's snapshot of the profile it was submitted with."""

from __future__ import annotations

import html
import io
import re
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kickflow.profiles import builtin_profile_names
from tests.fakes.web import Browser, Person, WebRig, web_rig

JOBS = "/api/qc/jobs"
LOUD = 'extends = "ebu-r128"\ndescription = "Loud web masters"\n\n[loudness]\ntarget_lufs = -9.0\n'
QUIET = LOUD.replace("-9.0", "-30.0").replace("Loud", "Quiet")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path) as r:
        yield r


def signed_in(rig: WebRig, person: Person) -> Browser:
    browser = rig.browser()
    assert browser.sign_in(person).status_code == 303
    assert browser.get("/profiles").status_code == 200
    return browser


@pytest.fixture
def admin(rig: WebRig) -> Browser:
    return signed_in(rig, rig.person("ann@studio.test", "admin"))


def upload(browser: Browser, name: str, source: str, **kw: object) -> httpx.Response:
    form = {"name": name, "source": source, "csrf_token": browser.csrf}
    return browser.client.request("POST", "/profiles", data=form, **kw)  # type: ignore[arg-type]


def textarea(page: str) -> str:
    found = re.search(r'<textarea id="profile-source"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1))


# --- reading ------------------------------------------------------------------------------------


def test_every_built_in_profile_reads_in_plain_words(rig: WebRig) -> None:
    viewer = signed_in(rig, rig.person("vic@studio.test", "viewer"))
    listing = viewer.get("/profiles").text
    for name in builtin_profile_names():
        assert f'href="/profiles/{name}"' in listing
        page = viewer.get(f"/profiles/{name}")
        assert page.status_code == 200, name
        assert "Integrated loudness must be" in page.text and "True peak must not" in page.text
    ebu = viewer.get("/profiles/ebu-r128").text
    assert "Integrated loudness must be -23 LUFS" in ebu and "default" in ebu
    assert "Frame rate must be 25 or 50 fps" in ebu
    assert 'name = "ebu-r128"' in html.unescape(ebu), "its TOML, to start a custom one from"


def test_a_viewer_reads_but_cannot_upload_or_delete(rig: WebRig, admin: Browser) -> None:
    assert upload(admin, "house", LOUD).status_code == 303
    viewer = signed_in(rig, rig.person("vic@studio.test", "viewer"))
    listing = viewer.get("/profiles").text
    assert 'href="/profiles/house"' in listing and 'id="upload"' not in listing
    page = viewer.get("/profiles/house").text
    assert "Integrated loudness must be -9 LUFS" in page and "/delete" not in page
    assert upload(viewer, "mine", LOUD).status_code == 403
    assert viewer.post("/profiles/house/delete").status_code == 403
    assert [p.name for p in rig.store.org_profiles(rig.org)] == ["house"]


def test_an_unknown_profile_is_a_404_page(admin: Browser) -> None:
    assert admin.get("/profiles/nothing-here").status_code == 404


# --- uploading ----------------------------------------------------------------------------------


def test_an_admin_uploads_a_profile_from_the_text_area(rig: WebRig, admin: Browser) -> None:
    answer = upload(admin, "web-loud", LOUD)
    assert answer.status_code == 303 and answer.headers["location"] == "/profiles/web-loud"
    page = admin.get("/profiles/web-loud").text
    assert "Profile web-loud saved." in page
    assert "Loud web masters" in page and "Integrated loudness must be -9 LUFS" in page
    assert "Frame rate must be 25 or 50 fps" in page, "the rest comes from ebu-r128"
    saved = rig.store.org_profile(rig.org, "web-loud")
    assert saved is not None and saved.source == LOUD and saved.updated_by is not None
    assert 'href="/profiles/web-loud"' in admin.get("/profiles").text


def test_an_admin_uploads_a_profile_file(rig: WebRig, admin: Browser) -> None:
    files = {"file": ("spec.toml", LOUD.encode(), "application/toml")}
    assert upload(admin, "from-file", "", files=files).status_code == 303
    saved = rig.store.org_profile(rig.org, "from-file")
    assert saved is not None and saved.source == LOUD


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ('[loudness]\ntarget_lufs = "loud"\n', "loudness.target_lufs must be a number"),
        ("[loudness\ntarget_lufs = -9\n", "not valid TOML"),
        ('extends = "ebu-r128"\n[loudnes]\ntarget_lufs = -9.0\n', "loudnes is not a known key"),
        ("[video]\nrequired = true\n", "loudness is required"),
        ("", "the TOML text is empty"),
        ("# " + "x" * 70_000, "larger than 64 KB"),
    ],
)
def test_a_bad_profile_is_a_422_with_the_one_sentence_and_the_text_kept(
    rig: WebRig, admin: Browser, source: str, said: str
) -> None:
    answer = upload(admin, "web-loud", source)
    assert answer.status_code == 422
    message = re.search(
        r'<p class="flash flash-error" role="alert" id="upload-error">([^<]+)', answer.text
    )
    assert message is not None and said in html.unescape(message.group(1))
    assert textarea(answer.text) == source
    assert 'value="web-loud"' in answer.text, "the name kept too"
    assert rig.store.org_profiles(rig.org) == []


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("ebu-r128", "is a built-in profile"),
        ("default", "is a built-in profile"),
        ("Web Loud", "lower-case letters"),
        ("x" * 101, "at most 100 characters"),
        ("", "give the profile a name"),
    ],
)
def test_a_bad_name_is_refused(rig: WebRig, admin: Browser, name: str, said: str) -> None:
    answer = upload(admin, name, LOUD)
    assert answer.status_code == 422 and said in html.unescape(answer.text)
    assert textarea(answer.text) == LOUD
    assert rig.store.org_profiles(rig.org) == []


def test_a_file_that_is_not_text_is_refused(rig: WebRig, admin: Browser) -> None:
    files = {"file": ("spec.toml", b"\xff\xfe\x00binary", "application/octet-stream")}
    answer = upload(admin, "binary", "", files=files)
    assert answer.status_code == 422 and "not UTF-8 text" in answer.text
    assert rig.store.org_profiles(rig.org) == []


def test_an_upload_without_the_csrf_token_is_refused(rig: WebRig, admin: Browser) -> None:
    answer = admin.client.request("POST", "/profiles", data={"name": "x", "source": LOUD})
    assert answer.status_code == 403
    assert rig.store.org_profiles(rig.org) == []


def test_replace_and_delete(rig: WebRig, admin: Browser) -> None:
    upload(admin, "house", LOUD)
    assert upload(admin, "house", QUIET).status_code == 303
    assert "Integrated loudness must be -30 LUFS" in admin.get("/profiles/house").text
    answer = admin.post("/profiles/house/delete")
    assert answer.status_code == 303 and answer.headers["location"] == "/profiles"
    assert rig.store.org_profiles(rig.org) == []
    assert admin.post("/profiles/house/delete").status_code == 404


def test_another_organisations_profile_is_not_found(rig: WebRig, admin: Browser) -> None:
    upload(admin, "house", LOUD)
    outsider = signed_in(rig, rig.person("olga@elsewhere.test", "admin", org=rig.other))
    assert outsider.get("/profiles/house").status_code == 404
    assert 'href="/profiles/house"' not in outsider.get("/profiles").text
    assert outsider.post("/profiles/house/delete").status_code == 404
    assert rig.store.org_profile(rig.org, "house") is not None


# --- the API ------------------------------------------------------------------------------------


def test_the_api_lists_built_in_and_own_profiles(rig: WebRig, admin: Browser) -> None:
    upload(admin, "house", LOUD)
    listed = rig.api.get("/api/qc/profiles", role="viewer").json()
    assert listed["default"] == "ebu-r128"
    names = [(p["name"], p["custom"]) for p in listed["profiles"]]
    assert names == [(n, False) for n in builtin_profile_names()] + [("house", True)]
    assert listed["profiles"][-1]["description"] == "Loud web masters"
    theirs = rig.api.get("/api/qc/profiles", role="other").json()["profiles"]
    assert "house" not in [p["name"] for p in theirs]


def test_a_job_submitted_with_a_custom_profile_keeps_its_text(rig: WebRig, admin: Browser) -> None:
    upload(admin, "house", LOUD)
    clip = rig.api.media / "clip.mov"
    clip.write_bytes(b"x")
    body = {"source": {"type": "path", "path": str(clip)}, "profile": "house"}
    made = rig.api.post(JOBS, role="member", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["profile"] == "house"
    upload(admin, "house", QUIET)  # replaced after the job was submitted
    job = rig.store.get(rig.org, made.json()["id"])
    assert (job.profile, job.profile_source) == ("house", LOUD)
    builtin = rig.api.post(JOBS, role="member", json=body | {"profile": "web"}).json()
    assert rig.store.get(rig.org, builtin["id"]).profile_source is None


def wav_bytes() -> bytes:
    """A tenth of a second of silence as a real WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\0\0" * 4800)
    return out.getvalue()


def test_an_upload_job_carries_the_custom_profile(rig: WebRig, admin: Browser) -> None:
    upload(admin, "house", LOUD)
    files = [("file", ("take.wav", wav_bytes(), "audio/wav"))]
    made = rig.api.post(JOBS, role="member", files=files, data={"profile": "house"})
    assert made.status_code == 201, made.text
    assert rig.store.get(rig.org, made.json()["id"]).profile_source == LOUD
    refused = rig.api.post(JOBS, role="other", files=files, data={"profile": "house"})
    assert refused.status_code == 400, "another organisation's profile"


def test_another_organisations_profile_name_is_refused_by_the_api(
    rig: WebRig, admin: Browser
) -> None:
    upload(admin, "house", LOUD)
    clip = rig.api.media / "clip.mov"
    clip.write_bytes(b"x")
    body = {"source": {"type": "path", "path": str(clip)}, "profile": "house"}
    refused = rig.api.post(JOBS, role="other", json=body)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "profile_not_found"
    assert "house" not in refused.json()["error"]["message"].split("(")[1]
