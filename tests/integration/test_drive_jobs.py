"""``POST /api/qc/jobs`` with a ``drive`` source, in-process on the fake store against the fake
Google server (a real HTTP server on loopback) and the real OAuth, token and Drive clients: a
file link is one job, a folder one job per media file with its subtitle files paired by name;
a link that is not Drive's, a Google document and a folder without media are refused with one
sentence and nothing queued; the connection used is the caller's (an API token: the
organisation's), never another organisation's or another user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kickflow.config import Settings
from kickflow.integrations.google.oauth import OAuthClient, scopes_for
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import ORG_OWNER, GoogleConnection, TokenGrant
from kickflow.jobs.port import GoogleConnectionsPort
from tests.fakes.api import ApiRig, api_rig
from tests.fakes.google_server import FakeGoogle
from tests.fakes.web import WebRig, web_rig

JOBS = "/api/qc/jobs"
REDIRECT = "http://127.0.0.1:8000/settings/google/callback"
OWNER = "coordinator@studio.test"
MEDIA = b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)) * 16


def grant_for(google: FakeGoogle, settings: Settings, email: str) -> TokenGrant:
    """A grant as the connect flow gets it: consent at the fake, then the code exchanged."""
    oauth = OAuthClient(settings)
    request = oauth.authorization_request(REDIRECT, scopes_for(settings))
    target = google.approve_url(request.url, email)
    code = parse_qs(urlsplit(target).query)["code"][0]
    return oauth.exchange_code(code, request.code_verifier, REDIRECT)


def connect(
    store: GoogleConnectionsPort,
    settings: Settings,
    google: FakeGoogle,
    org: str,
    email: str,
    user_id: str = ORG_OWNER,
) -> GoogleConnection:
    google.add_user(email)
    grant = grant_for(google, settings, email)
    return GoogleTokens(store, settings).connect(org, user_id, grant, email)


def file_link(file_id: str) -> str:
    return f"https://drive.google.com/file/d/{file_id}/view?usp=sharing"


def folder_link(folder_id: str) -> str:
    return f"https://drive.google.com/drive/folders/{folder_id}"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as g:
        yield g


@pytest.fixture
def rig(tmp_path: Path, google: FakeGoogle) -> Iterator[ApiRig]:
    with api_rig(tmp_path, **google.settings_overrides()) as r:
        yield r


def submit(rig: ApiRig, url: str, role: str = "member", **extra: Any) -> tuple[int, Any]:
    reply = rig.post(JOBS, role=role, json={"source": {"type": "drive", "url": url}, **extra})
    return reply.status_code, reply.json()


def refusal(body: Any) -> tuple[str, str]:
    return str(body["error"]["code"]), str(body["error"]["message"])


def test_a_file_link_is_one_job_shown_by_its_name(rig: ApiRig, google: FakeGoogle) -> None:
    connection = connect(rig.store, rig.services.settings, google, rig.org, OWNER)
    file_id = google.add_file(OWNER, "EP01.mov", MEDIA, mime="video/quicktime")
    status, body = submit(rig, file_link(file_id))
    assert status == 201, body
    job = rig.store.get(rig.org, str(body["id"]))
    assert (job.source_type, job.file_name, job.file_size) == ("drive", "EP01.mov", len(MEDIA))
    assert job.source_ref == f"{connection.id}/{file_id}"
    assert body["source"] == {"type": "drive", "name": "EP01.mov"}
    shown = rig.get(f"{JOBS}/{job.id}", role="viewer").text
    assert connection.id not in shown and "ya29." not in shown


def test_a_folder_is_one_job_per_media_file_with_its_subtitles(
    rig: ApiRig, google: FakeGoogle
) -> None:
    connect(rig.store, rig.services.settings, google, rig.org, OWNER)
    folder = google.add_folder(OWNER, "Delivery 12")
    for name in ("EP01.mov", "EP02.mov"):
        google.add_file(OWNER, name, MEDIA, mime="video/quicktime", parent=folder)
    google.add_file(OWNER, "EP01.en.srt", b"1\n00:00:01,000 --> 00:00:02,000\nHi\n",
                    mime="application/x-subrip", parent=folder)  # fmt: skip
    google.add_file(OWNER, "EP02.fr.vtt", b"WEBVTT\n", mime="text/vtt", parent=folder)
    google.add_file(OWNER, "notes.pdf", b"%PDF-1.4", mime="application/pdf", parent=folder)
    google.add_native(OWNER, "Tracking sheet", mime="application/vnd.google-apps.spreadsheet")
    status, body = submit(rig, folder_link(folder), idempotencyKey="delivery-12")
    assert status == 201, body
    jobs = {j["fileName"]: rig.store.get(rig.org, j["id"]) for j in body["jobs"]}
    assert sorted(jobs) == ["EP01.mov", "EP02.mov"]
    assert [s.name for s in jobs["EP01.mov"].inputs.subtitles] == ["EP01.en.srt"]
    assert [s.name for s in jobs["EP02.mov"].inputs.subtitles] == ["EP02.fr.vtt"]
    assert all(s.source_type == "drive" for j in jobs.values() for s in j.inputs.subtitles)
    google.add_file(OWNER, "EP03.mov", MEDIA, mime="video/quicktime", parent=folder)
    again_status, again = submit(rig, folder_link(folder), idempotencyKey="delivery-12")
    assert again_status == 201, again
    ids = {j["fileName"]: j["id"] for j in again["jobs"]}
    assert sorted(ids) == ["EP01.mov", "EP02.mov", "EP03.mov"]
    assert {ids["EP01.mov"], ids["EP02.mov"]} == {j.id for j in jobs.values()}
    assert len(rig.store.list_jobs(rig.org).jobs) == 3


def test_a_folder_on_a_shared_drive_is_listed(rig: ApiRig, google: FakeGoogle) -> None:
    connect(rig.store, rig.services.settings, google, rig.org, OWNER)
    folder = google.add_folder(OWNER, "Shared delivery", drive_id="0AShared")
    google.add_file(OWNER, "REEL1.mxf", MEDIA, mime="application/mxf", parent=folder,
                    drive_id="0AShared")  # fmt: skip
    status, body = submit(rig, folder_link(folder))
    assert status == 201, body
    assert body["fileName"] == "REEL1.mxf"


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda g: "https://example.com/file/d/abc/view", "drive_link_invalid", "Drive link"),
        (lambda g: "not a link at all", "drive_link_invalid", "Drive link"),
        (lambda g: file_link(g.add_native(OWNER, "Script")), "drive_not_media", "Google document"),
        (lambda g: folder_link(g.add_folder(OWNER, "Empty")), "drive_folder_empty", "no media"),
    ],
)
def test_bad_links_are_one_sentence_and_queue_nothing(
    rig: ApiRig, google: FakeGoogle, make: Any, code: str, words: str
) -> None:
    connect(rig.store, rig.services.settings, google, rig.org, OWNER)
    status, body = submit(rig, make(google))
    assert 400 <= status < 500, body
    got_code, message = refusal(body)
    assert got_code == code and words in message, message
    assert "Traceback" not in message and str(rig.media.parent) not in message
    assert rig.store.list_jobs(rig.org).jobs == []


def test_a_folder_with_only_documents_is_empty(rig: ApiRig, google: FakeGoogle) -> None:
    connect(rig.store, rig.services.settings, google, rig.org, OWNER)
    folder = google.add_folder(OWNER, "Paperwork")
    google.add_file(OWNER, "notes.pdf", b"%PDF-1.4", mime="application/pdf", parent=folder)
    status, body = submit(rig, folder_link(folder))
    assert status == 400 and refusal(body)[0] == "drive_folder_empty", body
    assert "Paperwork" in refusal(body)[1]
    assert rig.store.list_jobs(rig.org).jobs == []


def test_without_a_connection_the_caller_is_told_to_connect(
    rig: ApiRig, google: FakeGoogle
) -> None:
    google.add_user(OWNER)
    file_id = google.add_file(OWNER, "EP01.mov", MEDIA)
    status, body = submit(rig, file_link(file_id))
    assert status == 400, body
    code, message = refusal(body)
    assert code == "google_not_connected" and "connect Google Drive in Settings" in message
    assert rig.store.list_jobs(rig.org).jobs == []
    assert not [r for r in google.requests if r.path.startswith("/drive/")]


def test_another_organisations_or_users_connection_is_never_used(
    rig: ApiRig, google: FakeGoogle
) -> None:
    """The other organisation and a member of this one are connected; this organisation
    (the API token's) is not: the submission is refused, and Drive was never asked."""
    settings = rig.services.settings
    connect(rig.store, settings, google, rig.other, "them@elsewhere.test")
    user = rig.store.create_user("member@studio.test", "$argon2id$stand-in", "A member")
    connect(rig.store, settings, google, rig.org, "member@studio.test", user_id=user.id)
    file_id = google.add_file("them@elsewhere.test", "EP01.mov", MEDIA)
    google.share(file_id, "member@studio.test")
    status, body = submit(rig, file_link(file_id))
    assert status == 400 and refusal(body)[0] == "google_not_connected", body
    assert not [r for r in google.requests if r.path.startswith("/drive/")]
    status, body = submit(rig, file_link(file_id), role="other")
    assert status == 201, body  # the other organisation reads with its own connection
    assert {r.email for r in google.requests if r.path.startswith("/drive/")} == {
        "them@elsewhere.test"
    }


def test_a_revoked_grant_is_the_reconnect_sentence(rig: ApiRig, google: FakeGoogle) -> None:
    connect(rig.store, rig.services.settings, google, rig.org, OWNER)
    file_id = google.add_file(OWNER, "EP01.mov", MEDIA)
    google.revoke_grants(OWNER)
    status, body = submit(rig, file_link(file_id))
    assert status == 400, body
    code, message = refusal(body)
    assert code == "google_access_denied"
    assert message.startswith("Google Drive access denied — reconnect Google Drive in Settings")
    assert rig.store.list_jobs(rig.org).jobs == []


def test_subtitles_in_the_body_are_refused_for_drive(rig: ApiRig, google: FakeGoogle) -> None:
    connect(rig.store, rig.services.settings, google, rig.org, OWNER)
    file_id = google.add_file(OWNER, "EP01.mov", MEDIA)
    status, body = submit(rig, file_link(file_id), subtitles=[{"path": "/media/EP01.srt"}])
    assert status == 422, body
    assert "Drive folder" in refusal(body)[1]
    assert rig.store.list_jobs(rig.org).jobs == []


# --- the Submit page and dashboard sessions ---------------------------------------------------


@pytest.fixture
def web(tmp_path: Path, google: FakeGoogle) -> Iterator[WebRig]:
    with web_rig(tmp_path, **google.settings_overrides()) as r:
        yield r


def test_the_submit_page_says_to_connect_first(web: WebRig, google: FakeGoogle) -> None:
    ann = web.person("ann@studio.test", "member")
    browser = web.browser()
    browser.sign_in(ann)
    page = browser.get("/submit").text
    assert "Google Drive link" in page and "connect Google Drive in Settings" in page
    google.add_user(OWNER)
    file_id = google.add_file(OWNER, "EP01.mov", MEDIA)
    reply = browser.post("/submit/drive", {"drive_url": file_link(file_id)})
    assert reply.status_code == 400
    assert "not connected for your account" in reply.text
    assert "connect Google Drive in Settings" in reply.text
    assert web.store.list_jobs(web.org).jobs == []


def test_a_session_reads_with_its_users_own_connection(web: WebRig, google: FakeGoogle) -> None:
    settings = web.api.services.settings
    ann = web.person("ann@studio.test", "member")
    organisation = connect(web.store, settings, google, web.org, OWNER)
    own = connect(web.store, settings, google, web.org, "ann@gmail.test", user_id=ann.user_id)
    file_id = google.add_file(OWNER, "EP01.mov", MEDIA)
    google.share(file_id, "ann@gmail.test")
    browser = web.browser()
    browser.sign_in(ann)
    page = browser.get("/submit").text
    assert 'id="drive-button"' in page and "connect Google Drive in Settings" not in page
    reply = browser.post("/submit/drive", {"drive_url": file_link(file_id)})
    assert reply.status_code == 303, reply.text
    headers = {"X-CSRF-Token": browser.csrf, "Sec-Fetch-Site": "same-origin"}
    body = {"source": {"type": "drive", "url": file_link(file_id)}, "project": "api"}
    api = browser.request("POST", JOBS, json=body, headers=headers)
    assert api.status_code == 201, api.text
    refs = {j.source_ref.split("/")[0] for j in web.store.list_jobs(web.org).jobs}
    assert refs == {own.id} and organisation.id not in refs
    bad = browser.post("/submit/drive", {"drive_url": "https://example.com/EP01.mov"})
    assert bad.status_code == 400 and "not a Google Drive link" in bad.text


def test_a_service_without_google_says_so(tmp_path: Path) -> None:
    with api_rig(tmp_path) as rig:
        status, body = submit(rig, file_link("1AbCdEfGhIjKlMnOpQrStUvWxYz"))
        assert status == 400 and refusal(body)[0] == "google_not_configured", body
        assert rig.store.list_jobs(rig.org).jobs == []


def test_the_worker_protocol_hands_out_only_the_jobs_own_organisations_token(
    rig: ApiRig, google: FakeGoogle
) -> None:
    """``/leases/input`` for a Drive job: a fresh access token of the job's connection, never
    a refresh token; a reference naming another organisation's connection is not connected."""
    settings = rig.services.settings
    mine = connect(rig.store, settings, google, rig.org, OWNER)
    theirs = connect(rig.store, settings, google, rig.other, "them@elsewhere.test")
    good = rig.store.enqueue(rig.org, "drive", f"{mine.id}/file1", file_name="EP01.mov")
    bad = rig.store.enqueue(rig.org, "drive", f"{theirs.id}/file2", file_name="EP02.mov")
    claimed = rig.worker("claim", {"worker_id": "w1", "limit": 2}).json()["claimed"]
    leases = {c["job"]["id"]: c["lease"] for c in claimed}
    answer = rig.worker("leases/input", {"lease": leases[good.id]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["kind"] == "drive" and body["access_token"].startswith("ya29.")
    assert "refresh" not in answer.text and "1//" not in answer.text
    forced = rig.worker("leases/input", {"lease": leases[good.id], "force_refresh": True})
    assert forced.json()["access_token"] != body["access_token"]
    refused = rig.worker("leases/input", {"lease": leases[bad.id]})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "google_not_connected"
    stale = dict(leases[good.id], token="not-the-lease")
    assert rig.worker("leases/input", {"lease": stale}).status_code == 409
