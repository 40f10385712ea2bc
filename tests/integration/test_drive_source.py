"""The ``drive`` source on the real store (SQLite and PostgreSQL) against the fake Google
server: bytes with progress, the size cap before any byte, a token expiring mid-download
refreshed and the download resumed with ``Range``; a direct worker with the real engine runs a
Drive job, fails a revoked grant permanently with the reconnect sentence and goes green on a
retry after reconnecting; the organisation matrix: a job only ever reads with a connection of
its own organisation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.errors import FileTooLarge, GoogleNotConnected
from kickflow.integrations.google import drive_jobs, drive_source
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import GoogleConnection
from kickflow.jobs import Job, JobState, JobStore
from kickflow.jobs.models import JobInputs
from kickflow.worker import Worker
from tests.fakes.google_server import FakeGoogle
from tests.integration.test_drive_jobs import connect, folder_link
from tests.integration.test_worker import wait_for

OWNER = "coordinator@studio.test"
OTHER = "vendor@elsewhere.test"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as g:
        yield g


@pytest.fixture
def settings(job_settings: Settings, google: FakeGoogle) -> Settings:
    return job_settings.model_copy(update=google.settings_overrides())


def drive_job(store: JobStore, org: str, connection: GoogleConnection, file_id: str) -> Job:
    ref = f"{connection.id}/{file_id}"
    return store.enqueue(org, "drive", ref, file_name="EP01.mp4")


def progress_log() -> tuple[list[tuple[int, int | None]], Callable[[int, int | None], None]]:
    seen: list[tuple[int, int | None]] = []
    return seen, lambda done, total: seen.append((done, total))


def test_bytes_arrive_with_progress_and_match(
    store: JobStore, settings: Settings, google: FakeGoogle, short_clip: Path, tmp_path: Path
) -> None:
    org = store.ensure_org()
    connection = connect(store, settings, google, org, OWNER)
    data = short_clip.read_bytes()
    file_id = google.add_file(OWNER, "EP01.mp4", data)
    seen, on_bytes = progress_log()
    source = drive_source.for_org(store, settings, org)
    ref = f"{connection.id}/{file_id}"
    assert source.inspect(ref, settings).size == len(data)
    got = source.fetch(ref, tmp_path / "in", settings, on_bytes)
    assert got.name == "EP01.mp4" and got.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_the_size_cap_is_checked_before_any_byte(
    store: JobStore, settings: Settings, google: FakeGoogle, tmp_path: Path
) -> None:
    org = store.ensure_org()
    connection = connect(store, settings, google, org, OWNER)
    file_id = google.add_file(OWNER, "BIG.mov", b"\0" * 1_500_000)
    capped = settings.model_copy(update={"max_file_mb": 1})
    source = drive_source.for_org(store, capped, org)
    with pytest.raises(FileTooLarge, match="KICKFLOW_MAX_FILE_MB"):
        source.fetch(f"{connection.id}/{file_id}", tmp_path / "in", capped, progress_log()[1])
    assert not [r for r in google.requests if r.query.get("alt") == "media"]
    assert not (tmp_path / "in" / "BIG.mov").exists()


def test_a_token_expiring_mid_download_is_refreshed_and_resumed(
    store: JobStore, settings: Settings, google: FakeGoogle, tmp_path: Path
) -> None:
    org = store.ensure_org()
    connection = connect(store, settings, google, org, OWNER)
    data = bytes(range(256)) * 4096  # 1 MiB
    file_id = google.add_file(OWNER, "EP01.mov", data)
    google.expire_tokens_after_bytes(300_000)
    seen, on_bytes = progress_log()
    got = drive_source.for_org(store, settings, org).fetch(
        f"{connection.id}/{file_id}", tmp_path / "in", settings, on_bytes
    )
    assert got.read_bytes() == data and seen[-1][0] == len(data)
    media = [r for r in google.requests if r.query.get("alt") == "media"]
    assert any(r.status == 401 for r in media), media
    resumed = [r for r in media if r.range and r.status == 206]
    last = resumed[-1].range if resumed else None
    assert last is not None and last.startswith("bytes=") and last != "bytes=0-", media
    assert any(r.path == "/token" for r in google.requests[1:])  # refreshed, not re-consented


def test_the_organisation_matrix(
    store: JobStore, settings: Settings, google: FakeGoogle, tmp_path: Path
) -> None:
    """Each organisation's connection reads its own files; a reference naming the other
    organisation's connection is "not connected", and Google is never asked with its token."""
    orgs = {"a": store.ensure_org("studio-a"), "b": store.ensure_org("studio-b")}
    emails = {"a": OWNER, "b": OTHER}
    connections = {k: connect(store, settings, google, orgs[k], emails[k]) for k in orgs}
    files = {k: google.add_file(emails[k], f"{k}.mov", b"media " + k.encode()) for k in orgs}
    for job_org, job_org_id in orgs.items():
        source = drive_source.for_org(store, settings, job_org_id)
        for conn_org in orgs:
            ref = f"{connections[conn_org].id}/{files[conn_org]}"
            before = len(google.requests)
            dest = tmp_path / f"{job_org}-{conn_org}"
            if job_org == conn_org:
                got = source.fetch(ref, dest, settings, progress_log()[1])
                assert got.read_bytes() == b"media " + conn_org.encode()
                continue
            with pytest.raises(GoogleNotConnected):
                source.fetch(ref, dest, settings, progress_log()[1])
            assert len(google.requests) == before  # refused before any request to Google


def test_a_job_with_another_organisations_connection_fails_as_not_connected(
    store: JobStore,
    settings: Settings,
    google: FakeGoogle,
    run_worker: Callable[..., Worker],
    short_clip: Path,
) -> None:
    mine, theirs = store.ensure_org("studio-a"), store.ensure_org("studio-b")
    foreign = connect(store, settings, google, theirs, OTHER)
    file_id = google.add_file(OTHER, "EP01.mp4", short_clip.read_bytes())
    job = drive_job(store, mine, foreign, file_id)
    run_worker(settings)
    wait_for("the failure", lambda: store.get(mine, job.id).terminal, timeout=90)
    failed = store.get(mine, job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "google_not_connected"
    assert not [r for r in google.requests if r.path.startswith("/drive/")]


def test_revoked_fails_permanently_then_a_retry_after_reconnecting_completes(
    store: JobStore,
    settings: Settings,
    google: FakeGoogle,
    run_worker: Callable[..., Worker],
    short_clip: Path,
) -> None:
    org = store.ensure_org()
    connection = connect(store, settings, google, org, OWNER)
    file_id = google.add_file(OWNER, "EP01.mp4", short_clip.read_bytes())
    google.revoke_grants(OWNER)
    google.expire_access_tokens()
    job = drive_job(store, org, connection, file_id)
    run_worker(settings)
    wait_for("the failure", lambda: store.get(org, job.id).terminal, timeout=90)
    failed = store.get(org, job.id)
    assert failed.state is JobState.FAILED and failed.attempt == 1  # permanent: no retries
    assert failed.error_code == "google_access_denied"
    assert "reconnect Google Drive in Settings" in (failed.error_message or "")
    again = connect(store, settings, google, org, OWNER)
    assert again.id == connection.id and again.status == "ok"
    store.retry(org, job.id)
    wait_for("the retry", lambda: store.get(org, job.id).state is JobState.COMPLETED, 120)
    done = store.get(org, job.id)
    assert done.verdict in {"passed", "needs_review", "failed"}
    assert done.report is not None and done.report["verdict"] == done.verdict


def test_a_folder_job_gets_its_drive_subtitle_file_on_a_direct_worker(
    store: JobStore,
    settings: Settings,
    google: FakeGoogle,
    run_worker: Callable[..., Worker],
    short_clip: Path,
) -> None:
    org = store.ensure_org()
    connect(store, settings, google, org, OWNER)
    folder = google.add_folder(OWNER, "Delivery 3")
    google.add_file(OWNER, "EP01.mp4", short_clip.read_bytes(), parent=folder)
    srt = b"1\n00:00:00,500 --> 00:00:02,000\nHello.\n"
    subtitle = google.add_file(OWNER, "EP01.en.srt", srt, mime="application/x-subrip",
                               parent=folder)  # fmt: skip
    planned = drive_jobs.plan_link(
        GoogleTokens(store, settings), settings, org, None, folder_link(folder)
    )
    assert [(p.file_name, [s.name for s in p.subtitles]) for p in planned] == [
        ("EP01.mp4", ["EP01.en.srt"])
    ]
    one = planned[0]
    job = store.enqueue(org, "drive", one.ref, file_name=one.file_name,
                        inputs=JobInputs(one.subtitles, None))  # fmt: skip
    run_worker(settings)
    wait_for("completion", lambda: store.get(org, job.id).terminal, timeout=120)
    done = store.get(org, job.id)
    assert done.state is JobState.COMPLETED, done.error_message
    fetched = [r for r in google.requests if r.query.get("alt") == "media" and subtitle in r.path]
    assert fetched and fetched[-1].status == 200
