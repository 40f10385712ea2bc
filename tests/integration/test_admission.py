"""Admission limits and fairness between organisations, on SQLite and PostgreSQL.

Store level: the fair claim (one organisation's backlog delays another's job by at most one
claim per slot; priority ranks an organisation's own jobs only), the per-organisation running
cap, the queued limit. CLI: the queued limit as one sentence. API (a real server): files per
upload, empty uploads, the queued limit, priority ranges by role, and a client that hangs up
mid-upload (an in-process server, so the test sees every log record).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import uvicorn

from kickflow.api import create_app
from kickflow.cli import errors as cli_errors
from kickflow.cli.jobs import jobs_app
from kickflow.config import Settings, get_settings
from kickflow.errors import QueueLimitReached, TooManyFiles
from kickflow.jobs import Claimed, Job, JobState, JobStore, SqlJobStore
from kickflow.jobs.accounts import create_token
from kickflow.jobs.db import write_tx
from kickflow.storage import INCOMING_DIR, UploadStorage
from tests.fixtures_server import Server, free_port, wait_for

JOBS = "/api/qc/jobs"


def add(store: JobStore, org: str, name: str = "a.mov", **kw: Any) -> Job:
    return store.enqueue(org, "path", f"/media/{name}", file_name=name, **kw)


def backlog(store: JobStore, org: str, n: int, **kw: Any) -> list[Job]:
    items = [store.new_job(org, "path", f"/m/{i}", file_name=f"{i}.mov", **kw) for i in range(n)]
    return store.enqueue_many(items)


def claim_one(store: JobStore) -> Claimed:
    [claimed] = store.claim("w1")
    return claimed


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- fair claim ---------------------------------------------------------------------------


@pytest.mark.parametrize(("slots", "a_cap"), [(1, None), (3, None), (8, 0)])
def test_a_backlog_delays_another_org_by_at_most_one_claim_per_slot(
    store: JobStore, slots: int, a_cap: int | None
) -> None:
    a, b = store.ensure_org("tenant-a"), store.ensure_org("tenant-b")
    if a_cap is not None:
        store.set_org_cap(a, a_cap)  # 0 = no cap: A can fill all eight slots
    backlog(store, a, 500)
    running = deque(claim_one(store) for _ in range(slots))
    for _ in range(5):  # A has been served for a while: each slot completes and claims again
        store.complete(running.popleft().lease, "passed", {})
        running.append(claim_one(store))
    single = add(store, b, "b.mov")
    claimed_next = []
    for _ in range(slots):
        store.complete(running.popleft().lease, "passed", {})
        running.append(claim_one(store))
        claimed_next.append(running[-1].job.id)
    assert single.id in claimed_next


def test_a_batch_claim_is_spread_over_organisations(store: JobStore) -> None:
    a, b, c = (store.ensure_org(name) for name in ("tenant-a", "tenant-b", "tenant-c"))
    backlog(store, a, 500)
    backlog(store, b, 3)
    backlog(store, c, 3)
    claimed = store.claim("w1", limit=6)
    assert Counter(x.job.org_id for x in claimed) == {a: 2, b: 2, c: 2}


def test_priority_ranks_an_orgs_own_jobs_and_cannot_jump_another_org(store: JobStore) -> None:
    a, b = store.ensure_org("tenant-a"), store.ensure_org("tenant-b")
    low = add(store, a, "low", priority=0)
    high = [add(store, a, f"high{i}", priority=10) for i in range(5)]
    other = add(store, b, "other", priority=-5)
    order = []
    for _ in range(7):
        claimed = claim_one(store)
        order.append(claimed.job.id)
        store.complete(claimed.lease, "passed", {})
    assert other.id in order[:2]  # not behind A's five priority-10 jobs
    own = [job_id for job_id in order if job_id != other.id]
    assert set(own[:5]) == {j.id for j in high} and own[5] == low.id


# --- running cap --------------------------------------------------------------------------


def test_default_cap_is_four_running_jobs_per_org_even_in_one_batch(store: JobStore) -> None:
    assert store.settings.org_max_running == 4
    a, b = store.ensure_org("tenant-a"), store.ensure_org("tenant-b")
    backlog(store, a, 10)
    add(store, b, "b.mov")
    claimed = store.claim("w1", limit=10)
    assert Counter(c.job.org_id for c in claimed) == {a: 4, b: 1}
    assert store.claim("w1") == []
    store.complete(next(c.lease for c in claimed if c.job.org_id == a), "passed", {})
    assert [c.job.org_id for c in store.claim("w1", limit=3)] == [a]
    assert store.counts(a)["running"] == 4


# --- queued limit -------------------------------------------------------------------------


@pytest.fixture
def small_queue(job_settings: Settings) -> Iterator[JobStore]:
    """A store whose organisations may each have 3 queued jobs."""
    s = SqlJobStore(
        job_settings.database_url, job_settings.model_copy(update={"org_max_queued": 3})
    )
    yield s
    s.close()


def test_queued_limit_refuses_and_enqueues_nothing(small_queue: JobStore) -> None:
    store = small_queue
    org, other = store.ensure_org(), store.ensure_org("other")
    kept = add(store, org, "kept", idempotency_key="k")
    backlog(store, org, 2)
    with pytest.raises(QueueLimitReached) as refused:
        add(store, org, "one-too-many")
    message = refused.value.message
    assert "3 queued" in message and "limit is 3" in message
    assert "KICKFLOW_ORG_MAX_QUEUED" in message
    assert store.counts(org)["queued"] == 3
    assert add(store, org, "kept", idempotency_key="k").id == kept.id  # known key: no new job
    assert add(store, other, "elsewhere").state is JobState.QUEUED  # other orgs unaffected
    claim_one(store)  # running jobs are not queued: room for exactly one more
    add(store, org, "now-fits")
    with pytest.raises(QueueLimitReached, match="2 jobs cannot be added"):
        store.enqueue_many([store.new_job(org, "path", f"/x/{i}", file_name="x") for i in (1, 2)])
    assert store.counts(org)["queued"] == 3 and store.counts(other)["queued"] == 1


def test_cli_submit_refused_by_the_queued_limit_in_one_sentence(
    store: JobStore,
    job_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = store.ensure_org()
    backlog(store, org, 2)
    clips = [tmp_path / "outside" / f"clip{i}.mov" for i in range(2)]
    for clip in clips:  # outside the allowed roots: the CLI would copy them into storage
        clip.parent.mkdir(exist_ok=True)
        clip.write_bytes(b"x" * 100)
    for key, value in {
        "KICKFLOW_DATABASE_URL": job_settings.database_url,
        "KICKFLOW_DATA_DIR": str(job_settings.data_dir),
        "KICKFLOW_ALLOWED_ROOTS": job_settings.allowed_roots,
        "KICKFLOW_ORG_MAX_QUEUED": "3",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        command = typer.main.get_command(jobs_app)
        with pytest.raises(SystemExit) as exited, cli_errors.handled(verbose=False):
            command.main(["submit", *map(str, clips)], standalone_mode=False)
    finally:
        get_settings.cache_clear()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("kickflow: queue limit reached") and err.count("\n") == 1, err
    assert "2 queued" in err and "KICKFLOW_ORG_MAX_QUEUED" in err and "Traceback" not in err
    assert store.counts(org)["queued"] == 2
    assert files_under(job_settings.data_dir / "uploads") == []


# --- upload storage -----------------------------------------------------------------------


def test_the_file_after_the_limit_is_refused_before_a_byte_is_written(tmp_path: Path) -> None:
    storage = UploadStorage(tmp_path, max_request_bytes=1024)
    with pytest.raises(TooManyFiles, match="limit is 2"), storage.batch("org", max_files=2) as b:
        for name in ("a.mov", "b.mov"):
            b.start_file(name)
            b.write(b"x")
        parts = files_under(storage.root)
        try:
            b.start_file("c.mov")
        finally:
            assert files_under(storage.root) == parts  # nothing of c.mov
    assert files_under(storage.root) == []


# --- API: a real server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_store(api_server: Server) -> Iterator[JobStore]:
    store = SqlJobStore(
        api_server.db_url, Settings.model_validate({"database_url": api_server.db_url})
    )
    yield store
    store.close()


@pytest.fixture
def media(api_server: Server, short_clip: Path) -> Path:
    target = api_server.media_root / "admission.mp4"
    if not target.exists():
        target.write_bytes(short_clip.read_bytes())
    return target


def error_of(reply: httpx.Response, status: int, code: str) -> str:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return str(body["error"]["message"])


def no_jobs(server: Server, token: str) -> bool:
    with server.client(token) as c:
        return c.get(JOBS).json()["jobs"] == []


def test_too_many_files_in_one_upload(api_server: Server) -> None:
    token = api_server.token_for("many-files", "member")
    before = api_server.uploads()
    files = [("file", (f"f{i}.wav", b"x" * 1000)) for i in range(21)]
    with api_server.client(token) as c:
        message = error_of(c.post(JOBS, files=files), 422, "too_many_files")
        assert "20" in message and "KICKFLOW_MAX_FILES_PER_UPLOAD" in message
        assert api_server.uploads() == before and no_jobs(api_server, token)
        assert c.post(JOBS, files=files[:20]).status_code == 201  # the limit itself is fine
    assert len(api_server.uploads()) == len(before) + 20


def test_empty_uploads_are_refused(api_server: Server) -> None:
    token = api_server.token_for("empty-files", "member")
    before = api_server.uploads()
    with api_server.client(token) as c:
        message = error_of(c.post(JOBS, files={"file": ("a.mov", b"")}), 400, "empty_upload")
        assert "a.mov" in message and "0 bytes" in message
        both = [("file", ("good.mov", b"x" * 100)), ("file", ("empty.mov", b""))]
        error_of(c.post(JOBS, files=both), 400, "empty_upload")
    assert api_server.uploads() == before and no_jobs(api_server, token)


def test_queued_limit_is_429_for_paths_and_uploads(
    api_server: Server, server_store: JobStore, media: Path
) -> None:
    token = api_server.token_for("queue-full", "member")
    org = server_store.ensure_org("queue-full")
    limit = server_store.settings.org_max_queued
    backlog(server_store, org, limit - 1)
    before = api_server.uploads()
    with api_server.client(token) as c:
        two = [("file", ("a.wav", b"a" * 100)), ("file", ("b.wav", b"b" * 100))]
        message = error_of(c.post(JOBS, files=two), 429, "queue_limit_reached")  # at enqueue
        assert f"{limit - 1} queued" in message and f"limit is {limit}" in message
        assert api_server.uploads() == before
        assert (
            c.post(JOBS, json={"source": {"type": "path", "path": str(media)}}).status_code == 201
        )
        path = c.post(JOBS, json={"source": {"type": "path", "path": str(media)}})
        message = error_of(path, 429, "queue_limit_reached")
        assert f"{limit} queued" in message and "KICKFLOW_ORG_MAX_QUEUED" in message
        one = c.post(JOBS, files={"file": ("c.wav", b"c" * 100)})  # refused before storing
        error_of(one, 429, "queue_limit_reached")
    assert api_server.uploads() == before
    assert server_store.counts(org)["queued"] == limit


def test_priority_range_depends_on_the_role(api_server: Server, media: Path) -> None:
    member = api_server.token_for("priorities", "member")
    body = {"source": {"type": "path", "path": str(media)}}
    before = api_server.uploads()
    with api_server.client(member) as c:
        message = error_of(c.post(JOBS, json={**body, "priority": 11}), 422, "priority_not_allowed")
        assert message.startswith("priority:") and "-10 to 10" in message and "member" in message
        error_of(c.post(JOBS, json={**body, "priority": -11}), 422, "priority_not_allowed")
        upload = c.post(JOBS, files={"file": ("p.wav", b"p" * 10)}, data={"priority": "11"})
        error_of(upload, 422, "priority_not_allowed")
        assert api_server.uploads() == before and no_jobs(api_server, member)
        assert c.post(JOBS, json={**body, "priority": 10}).json()["priority"] == 10
    with api_server.client() as admin:  # the first-run token: admin of the local organisation
        reply = admin.post(JOBS, json={**body, "priority": 50})
        assert reply.status_code == 201 and reply.json()["priority"] == 50


# --- a client hanging up mid-upload -------------------------------------------------------


@pytest.fixture
def local_server(store: JobStore, job_settings: Settings) -> Iterator[tuple[str, int]]:
    """The app in this process (uvicorn in a thread): ``(token, port)``."""
    org = store.ensure_org("uploader")
    with write_tx(store.engine) as conn:
        token = create_token(conn, org, "member").secret
    config = uvicorn.Config(
        create_app(job_settings, store=store),
        host="127.0.0.1",
        port=free_port(),
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the in-process server")
    try:
        yield token, config.port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_client_disconnect_mid_upload_is_one_info_line_and_leaves_nothing(
    local_server: tuple[str, int], job_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    token, port = local_server
    boundary = "cut-short"
    head = (
        f"POST {JOBS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 100000\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.mov"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    uploads = job_settings.data_dir / "uploads"
    caplog.clear()
    caplog.set_level(logging.INFO)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + b"z" * 5000)
        wait_for(lambda: files_under(uploads / INCOMING_DIR), 10, "the part file to be written")
    wait_for(
        lambda: [r for r in caplog.records if "upload aborted" in r.getMessage()],
        10,
        "the upload-aborted log line",
    )
    records = [(r.levelno, r.name, r.getMessage()) for r in caplog.records]
    assert len(records) == 1, records
    level, _, message = records[0]
    assert level == logging.INFO and message.startswith("upload aborted: client disconnected")
    assert "after" in message and "bytes" in message
    wait_for(lambda: files_under(uploads) == [], 10, "the partial upload to be removed")
