"""The Drive client against the fake Google over real HTTP: metadata (shared drives too),
paged folder listings, streamed downloads with progress that resume after a dropped
connection or an access token expiring mid-body, checksums, and each refusal worded for the
person who has to act on it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kickflow.config import Settings
from kickflow.errors import (
    DriveChecksumMismatch,
    DriveFileNotFound,
    DriveNoAccess,
    DriveNotAFolder,
    DriveNotMedia,
    FileTooLarge,
    GoogleAccessDenied,
    GoogleUnavailable,
)
from kickflow.integrations.google.drive import DriveClient
from kickflow.integrations.google.oauth import OAuthClient
from kickflow.integrations.google.types import DRIVE_SCOPE, FOLDER_MIME, DriveFile
from tests.fakes.google_server import FakeGoogle, drive_error

ALICE = "alice@example.com"
BOB = "bob@example.org"
REDIRECT = "http://127.0.0.1:8000/callback"
DATA = os.urandom(300_000)


@dataclass
class RefreshingTokens:
    """An AccessTokenSource over the real OAuth client: refreshes when asked to."""

    oauth: OAuthClient
    refresh_token: str
    current: str
    refreshes: int = 0

    def access_token(self, force_refresh: bool = False) -> str:
        if force_refresh:
            self.current = self.oauth.refresh(self.refresh_token).access_token
            self.refreshes += 1
        return self.current


@dataclass
class Progress:
    calls: list[tuple[int, int | None]] = field(default_factory=list)

    def __call__(self, written: int, total: int | None) -> None:
        self.calls.append((written, total))


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as g:
        g.add_user(ALICE)
        g.add_user(BOB)
        yield g


def settings_for(g: FakeGoogle, tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path, **{**g.settings_overrides(), **extra})


def tokens_for(g: FakeGoogle, settings: Settings, email: str) -> RefreshingTokens:
    oauth = OAuthClient(settings)
    request = oauth.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    back = {k: v[0] for k, v in parse_qs(urlsplit(g.approve_url(request.url, email)).query).items()}
    grant = oauth.exchange_code(back["code"], request.code_verifier, REDIRECT)
    assert grant.refresh_token
    return RefreshingTokens(oauth, grant.refresh_token, grant.access_token)


@dataclass
class Rig:
    google: FakeGoogle
    settings: Settings
    tokens: RefreshingTokens
    drive: DriveClient
    tmp: Path

    def media_requests(self) -> list[tuple[int, str | None]]:
        return [(r.status, r.range) for r in self.google.requests if r.query.get("alt") == "media"]


def rig_for(g: FakeGoogle, tmp_path: Path, email: str = ALICE, **extra: object) -> Rig:
    settings = settings_for(g, tmp_path, **extra)
    tokens = tokens_for(g, settings, email)
    return Rig(g, settings, tokens, DriveClient(settings, tokens), tmp_path)


@pytest.fixture
def rig(google: FakeGoogle, tmp_path: Path) -> Rig:
    return rig_for(google, tmp_path)


def test_metadata_of_a_file(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA, mime="video/quicktime")
    meta = rig.drive.file(file_id)
    assert meta == DriveFile(
        id=file_id,
        name="EP01.mov",
        mime_type="video/quicktime",
        size=len(DATA),
        md5=hashlib.md5(DATA).hexdigest(),
        drive_id=None,
    )
    sent = rig.google.requests[-1]
    assert sent.email == ALICE and sent.query["supportsAllDrives"] == "true"
    assert set(sent.query["fields"].split(",")) >= {"size", "md5Checksum", "driveId"}


def test_a_shared_drive_file_is_found_and_carries_its_drive(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP02.mp4", DATA, drive_id="0AsharedDriveX")
    meta = rig.drive.file(file_id)
    assert meta.drive_id == "0AsharedDriveX" and meta.size == len(DATA)
    out = rig.drive.download(meta, rig.tmp / "in" / "EP02.mp4", Progress())
    assert out.read_bytes() == DATA


def test_a_folder_lists_direct_children_over_several_pages(rig: Rig) -> None:
    g = rig.google
    folder = g.add_folder(ALICE, "Delivery")
    names = [f"EP0{i}.mov" for i in range(1, 6)]
    for name in names:
        g.add_file(ALICE, name, b"x" * 10, parent=folder)
    sub = g.add_folder(ALICE, "extras", parent=folder)
    g.add_file(ALICE, "deep.mov", b"y", parent=sub)
    g.trash(g.add_file(ALICE, "old.mov", b"z", parent=folder))
    listed = rig.drive.list_folder(folder)
    assert sorted(f.name for f in listed) == sorted([*names, "extras"])
    assert [f.mime_type for f in listed if f.name == "extras"] == [FOLDER_MIME]
    assert all(f.size == 10 for f in listed if f.name != "extras")
    pages = [r for r in g.requests if r.path == "/drive/v3/files"]
    assert len(pages) == 3  # six children, two a page
    assert pages[0].query["q"] == f"'{folder}' in parents and trashed=false"
    assert [r.query.get("pageToken") for r in pages] == [None, "2", "4"]
    assert all(r.query["includeItemsFromAllDrives"] == "true" for r in pages)


def test_a_shared_drive_folder_is_listed(rig: Rig) -> None:
    g = rig.google
    folder = g.add_folder(ALICE, "Vendor", drive_id="0AsharedDriveY")
    for i in range(3):
        g.add_file(ALICE, f"EP{i}.mov", b"v", parent=folder, drive_id="0AsharedDriveY")
    assert len(rig.drive.list_folder(folder)) == 3
    last = g.requests[-1]
    assert last.query["driveId"] == "0AsharedDriveY" and last.query["corpora"] == "drive"


def test_listing_a_file_is_refused(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA)
    with pytest.raises(DriveNotAFolder):
        rig.drive.list_folder(file_id)


def test_the_account_email_comes_from_about(rig: Rig) -> None:
    assert rig.drive.account_email() == ALICE


def test_download_reports_byte_progress(rig: Rig) -> None:
    meta = rig.drive.file(rig.google.add_file(ALICE, "EP01.mov", DATA))
    progress = Progress()
    out = rig.drive.download(meta, rig.tmp / "EP01.mov", progress)
    assert out.read_bytes() == DATA
    written = [w for w, _ in progress.calls]
    assert len(written) > 1 and written == sorted(written) and written[-1] == len(DATA)
    assert {total for _, total in progress.calls} == {len(DATA)}
    assert rig.media_requests() == [(200, None)]


def test_a_dropped_connection_resumes_with_range(rig: Rig) -> None:
    meta = rig.drive.file(rig.google.add_file(ALICE, "EP01.mov", DATA))
    rig.google.drop_download_after(100_000)
    progress = Progress()
    out = rig.drive.download(meta, rig.tmp / "EP01.mov", progress)
    assert out.read_bytes() == DATA
    assert rig.media_requests() == [(200, None), (206, "bytes=100000-")]
    assert progress.calls[-1] == (len(DATA), len(DATA))


def test_a_token_expiring_mid_download_is_refreshed_and_the_download_resumes(rig: Rig) -> None:
    meta = rig.drive.file(rig.google.add_file(ALICE, "EP01.mov", DATA))
    first_token = rig.tokens.current
    rig.google.expire_tokens_after_bytes(50_000)
    out = rig.drive.download(meta, rig.tmp / "EP01.mov", Progress())
    assert out.read_bytes() == DATA
    assert rig.media_requests() == [(200, None), (401, "bytes=50000-"), (206, "bytes=50000-")]
    assert rig.tokens.refreshes == 1 and rig.tokens.current != first_token
    assert rig.google.requests[-1].email == ALICE


def test_too_many_drops_give_up_as_unavailable_and_leave_no_half_file(
    google: FakeGoogle, tmp_path: Path
) -> None:
    rig = rig_for(google, tmp_path)
    meta = rig.drive.file(google.add_file(ALICE, "EP01.mov", DATA))
    google.drop_download_after(1000, times=50)
    dest = tmp_path / "EP01.mov"
    with pytest.raises(GoogleUnavailable):
        rig.drive.download(meta, dest, Progress())
    assert not dest.exists()
    assert len(rig.media_requests()) == rig.drive.max_resumes + 1


def test_a_corrupted_checksum_is_a_transient_mismatch(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA)
    rig.google.set_md5(file_id, "0" * 32)
    meta = rig.drive.file(file_id)
    dest = rig.tmp / "EP01.mov"
    with pytest.raises(DriveChecksumMismatch) as caught:
        rig.drive.download(meta, dest, Progress())
    assert caught.value.permanent is False
    assert not dest.exists()


def test_a_missing_file_is_not_found(rig: Rig) -> None:
    with pytest.raises(DriveFileNotFound) as caught:
        rig.drive.file("1NoSuchFileAnywhere000")
    assert caught.value.message == "File not found: it may have been deleted or moved."


def test_a_file_deleted_after_its_metadata_is_not_found_at_download(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA)
    meta = rig.drive.file(file_id)
    del rig.google.items[file_id]
    with pytest.raises(DriveFileNotFound):
        rig.drive.download(meta, rig.tmp / "EP01.mov", Progress())


def test_a_native_document_is_not_media(rig: Rig) -> None:
    doc = rig.drive.file(rig.google.add_native(ALICE, "Notes"))
    assert doc.is_native and doc.size is None
    with pytest.raises(DriveNotMedia) as caught:
        rig.drive.download(doc, rig.tmp / "Notes", Progress())
    assert "Google document" in caught.value.message
    assert rig.media_requests() == []
    # Drive itself refuses the bytes too (metadata that lied about the type).
    disguised = DriveFile(doc.id, "Notes.mp4", "video/mp4", 10, None)
    with pytest.raises(DriveNotMedia):
        rig.drive.download(disguised, rig.tmp / "Notes.mp4", Progress())


def test_another_users_file_is_invisible_until_shared(google: FakeGoogle, tmp_path: Path) -> None:
    bobs = google.add_file(BOB, "secret.mov", DATA)
    folder = google.add_folder(BOB, "Bob's")
    google.add_file(BOB, "inside.mov", b"b", parent=folder)
    alice = rig_for(google, tmp_path)
    with pytest.raises(DriveFileNotFound):
        alice.drive.file(bobs)
    with pytest.raises(DriveFileNotFound):
        alice.drive.list_folder(folder)
    bobs_meta = rig_for(google, tmp_path, BOB).drive.file(bobs)
    with pytest.raises(DriveFileNotFound):
        alice.drive.download(bobs_meta, tmp_path / "stolen.mov", Progress())
    google.share(folder, ALICE)
    assert [f.name for f in alice.drive.list_folder(folder)] == ["inside.mov"]
    google.share(bobs, ALICE)
    assert alice.drive.file(bobs).name == "secret.mov"


def test_a_forbidden_file_says_who_must_share_it(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA)
    body = drive_error(403, "insufficientFilePermissions", "The user does not have access.")
    rig.google.fail(f"/files/{file_id}", 403, body=body)
    with pytest.raises(DriveNoAccess) as caught:
        rig.drive.file(file_id)
    assert caught.value.message == (
        "The connected Google account has no access to this Drive file: ask its owner to "
        "share it with that account."
    )


def test_rate_limits_and_server_errors_are_retried(rig: Rig) -> None:
    g = rig.google
    file_id = g.add_file(ALICE, "EP01.mov", DATA)
    g.fail(f"/files/{file_id}", 429, retry_after="1")
    g.fail(f"/files/{file_id}", 403, body=drive_error(403, "userRateLimitExceeded", "slow"))
    g.fail(f"/files/{file_id}", 500)
    meta = rig.drive.file(file_id)
    assert meta.size == len(DATA)
    assert [r.status for r in g.requests if r.path.endswith(file_id)] == [429, 403, 500, 200]
    g.fail(rf"/files/{file_id}\?.*alt=media", 503, times=2)
    assert rig.drive.download(meta, rig.tmp / "EP01.mov", Progress()).read_bytes() == DATA


def test_google_busy_on_every_try_is_unavailable(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA)
    rig.google.fail(f"/files/{file_id}", 503, times=100, retry_after="60")
    with pytest.raises(GoogleUnavailable):
        rig.drive.file(file_id)
    assert rig.google.faults[0].times == 100 - rig.settings.google_retry_attempts


def test_a_revoked_grant_is_access_denied(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA)
    rig.google.revoke_grants(ALICE)
    with pytest.raises(GoogleAccessDenied) as caught:
        rig.drive.file(file_id)
    assert "reconnect Google Drive in Settings" in caught.value.message


def test_an_expired_token_is_refreshed_once(rig: Rig) -> None:
    file_id = rig.google.add_file(ALICE, "EP01.mov", DATA)
    rig.google.expire_access_tokens()
    assert rig.drive.file(file_id).name == "EP01.mov"
    assert rig.tokens.refreshes == 1
    assert [r.status for r in rig.google.requests if r.path.endswith(file_id)] == [401, 200]


def test_a_file_over_the_size_cap_is_refused_before_download(
    google: FakeGoogle, tmp_path: Path
) -> None:
    rig = rig_for(google, tmp_path, max_file_mb=1)
    meta = rig.drive.file(google.add_file(ALICE, "big.mov", b"\0" * 1_200_000))
    with pytest.raises(FileTooLarge) as caught:
        rig.drive.download(meta, tmp_path / "big.mov", Progress())
    assert "1 MB" in caught.value.message
    assert rig.media_requests() == []


@dataclass
class FixedToken:
    """A token source whose token Google never accepts (refreshing does not help)."""

    forced: list[bool] = field(default_factory=list)

    def access_token(self, force_refresh: bool = False) -> str:
        self.forced.append(force_refresh)
        return "ya29.never-issued"


def test_a_token_refused_after_a_forced_refresh_is_access_denied(
    google: FakeGoogle, tmp_path: Path
) -> None:
    tokens = FixedToken()
    drive = DriveClient(settings_for(google, tmp_path), tokens)
    with pytest.raises(GoogleAccessDenied):
        drive.file(google.add_file(ALICE, "EP01.mov", DATA))
    assert tokens.forced == [False, True]
    assert [r.status for r in google.requests] == [401, 401]
