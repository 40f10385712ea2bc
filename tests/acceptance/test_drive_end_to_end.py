"""Google Drive end to end: a real ``kickflow serve`` (SQLite and PostgreSQL) pointed at the fake
Google server, an organisation-level connection made with the real OAuth flow, a folder link
submitted through the API, and an HTTP worker (``kickflow worker --server``, no database) that
downloads from Drive with access tokens the service hands out per lease: a token expiring
mid-download is refreshed through the service and the download resumes; a revoked grant fails
the job with the reconnect sentence, and after reconnecting a retry completes. No token ever
reaches the worker's log."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.config import Settings
from kickflow.integrations.google.types import GoogleConnection
from kickflow.jobs import SqlJobStore
from tests.fakes.google_server import FakeGoogle
from tests.fixtures_server import BACKENDS, Server, start_server, wait_for
from tests.integration.test_drive_jobs import connect, folder_link

JOBS = "/api/qc/jobs"
OWNER = "coordinator@studio.test"
TIMINGS = {"KICKFLOW_LEASE_SECONDS": "15", "KICKFLOW_HEARTBEAT_SECONDS": "1"}


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as g:
        g.add_user(OWNER)
        yield g


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    empty_database_url: Callable[[str], str],
    google: FakeGoogle,
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp(f"drive-{request.param}")
    srv = start_server(base, empty_database_url(request.param), env=TIMINGS | google.env())
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def service_store(server: Server, google: FakeGoogle) -> Iterator[SqlJobStore]:
    """The service's database with its data directory (so its secret key) and Google."""
    settings = Settings(
        data_dir=server.data_dir, database_url=server.db_url, **google.settings_overrides()
    )
    store = SqlJobStore(server.db_url, settings)
    try:
        yield store
    finally:
        store.close()


def org_connection(store: SqlJobStore, google: FakeGoogle) -> GoogleConnection:
    """The local organisation's own connection (what an admin makes in Settings)."""
    org = store.ensure_org()
    return connect(store, store.settings, google, org, OWNER)


class HttpWorker:
    """``kickflow worker --server`` as a process, with its own empty data directory and no
    database URL; its log is kept for the assertions."""

    def __init__(self, server: Server, token: str, tmp: Path) -> None:
        env = {k: v for k, v in server.env.items() if k != "KICKFLOW_DATABASE_URL"}
        env["KICKFLOW_DATA_DIR"] = str(tmp / "worker-data")
        self.log_path = tmp / "worker.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kickflow", "worker", "--server", server.url,
             "--token", token, "--concurrency", "2"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def stop(self) -> str:
        self.proc.terminate()
        assert self.proc.wait(timeout=60) == 0
        self._log.close()
        return self.log_path.read_text()


@pytest.fixture
def http_worker(server: Server, tmp_path: Path) -> Iterator[Callable[[], HttpWorker]]:
    started: list[HttpWorker] = []

    def start() -> HttpWorker:
        started.append(HttpWorker(server, server.token_for("local", "worker"), tmp_path))
        return started[-1]

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.stop()


def job_states(client: httpx.Client, ids: list[str]) -> list[dict[str, Any]]:
    return [client.get(f"{JOBS}/{i}").json() for i in ids]


def submit_folder(client: httpx.Client, folder: str) -> list[str]:
    reply = client.post(JOBS, json={"source": {"type": "drive", "url": folder_link(folder)}})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    return [j["id"] for j in body["jobs"]] if "jobs" in body else [body["id"]]


def test_a_folder_runs_on_an_http_worker_with_a_token_refreshed_mid_download(
    server: Server,
    service_store: SqlJobStore,
    google: FakeGoogle,
    http_worker: Callable[[], HttpWorker],
    short_clip: Path,
) -> None:
    org_connection(service_store, google)
    data = short_clip.read_bytes()
    folder = google.add_folder(OWNER, "Delivery 7")
    google.add_file(OWNER, "EP01.mp4", data, parent=folder)
    google.add_file(OWNER, "EP02.mp4", data, parent=folder)
    srt = b"1\n00:00:00,500 --> 00:00:02,000\nHello.\n"
    subtitle = google.add_file(OWNER, "EP01.en.srt", srt, mime="application/x-subrip",
                               parent=folder)  # fmt: skip
    google.expire_tokens_after_bytes(len(data) // 2)
    with server.client(server.token_for("local", "member")) as client:
        ids = submit_folder(client, folder)
        assert len(ids) == 2
        worker = http_worker()

        def all_done() -> bool:
            jobs = job_states(client, ids)
            assert not [j for j in jobs if j["state"] == "failed"], jobs
            return all(j["state"] == "completed" for j in jobs)

        wait_for(all_done, 180, "the HTTP worker to complete both Drive jobs")
        names = sorted(client.get(f"{JOBS}/{i}/report").json()["input"]["name"] for i in ids)
        assert names == ["EP01.mp4", "EP02.mp4"]
        shown = client.get(f"{JOBS}/{ids[0]}").json()["source"]
        assert shown["type"] == "drive" and shown["name"] in names
    log = worker.stop()
    media = [r for r in google.requests if r.query.get("alt") == "media"]
    assert any(r.status == 401 for r in media), "the token never expired mid-download"
    assert any(r.status == 206 and r.range and r.range != "bytes=0-" for r in media)
    assert any(subtitle in r.path for r in media), "the paired subtitle file was not fetched"
    assert "ya29." not in log and "1//" not in log  # no access or refresh token logged


def test_a_revoked_grant_fails_with_the_sentence_and_a_retry_after_reconnecting_completes(
    server: Server,
    service_store: SqlJobStore,
    google: FakeGoogle,
    http_worker: Callable[[], HttpWorker],
    short_clip: Path,
) -> None:
    connection = org_connection(service_store, google)
    folder = google.add_folder(OWNER, "Delivery 8")
    google.add_file(OWNER, "EP03.mp4", short_clip.read_bytes(), parent=folder)
    with server.client(server.token_for("local", "member")) as client:
        ids = submit_folder(client, folder)
        google.revoke_grants(OWNER)
        http_worker()
        wait_for(lambda: job_states(client, ids)[0]["state"] == "failed", 120, "the failure")
        failed = job_states(client, ids)[0]
        assert failed["lastError"]["code"] == "google_access_denied", failed
        assert "reconnect Google Drive in Settings" in failed["lastError"]["message"]
        assert failed["attempt"] == 1  # permanent: not retried on its own
        again = org_connection(service_store, google)
        assert again.id == connection.id
        reply = client.post("/api/qc/reprocess", json={"jobId": ids[0]})
        assert reply.status_code == 200, reply.text
        wait_for(lambda: job_states(client, ids)[0]["state"] == "completed", 180, "the green retry")
