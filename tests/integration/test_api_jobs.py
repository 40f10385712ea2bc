"""Job routes against a real server: submit (path, upload, batch), list with filters and
cursors, detail with history, progress, events, control, report, delete.

The server runs without workers; a job is put in ``running`` or given a result by a real
claim on the same database from the test process, as a worker would.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.config import Settings
from kickflow.engine import check_file
from kickflow.jobs import JobStore, SqlJobStore
from kickflow.jobs.models import Claimed
from kickflow.profiles import load_profile
from tests.fixtures_server import Server, wait_for

JOBS = "/api/qc/jobs"


@pytest.fixture(scope="module")
def worker_store(api_server: Server) -> Iterator[JobStore]:
    """The server's database, opened the way a worker opens it."""
    store = SqlJobStore(
        api_server.db_url, Settings.model_validate({"database_url": api_server.db_url})
    )
    yield store
    store.close()


@pytest.fixture
def api(api_server: Server) -> Iterator[httpx.Client]:
    with api_server.client() as client:
        yield client


@pytest.fixture
def media(api_server: Server, short_clip: Path) -> Path:
    target = api_server.media_root / "episode.mp4"
    if not target.exists():
        target.write_bytes(short_clip.read_bytes())
    return target


def submit(api: httpx.Client, path: Path, **extra: Any) -> dict[str, Any]:
    reply = api.post(JOBS, json={"source": {"type": "path", "path": str(path)}, **extra})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def claim(store: JobStore, job_id: str) -> Claimed:
    """Claim the job under test (submitted with the top priority, so it comes first; another
    top-priority job re-queued by an earlier test is handed back behind it)."""
    for _ in range(5):
        got = store.claim("test-worker")
        assert got, "nothing to claim"
        if got[0].job.id == job_id:
            return got[0]
        store.release(got[0].lease, "not the job under test")
    raise AssertionError(f"could not claim {job_id}")


def test_submit_a_path_and_read_it_back(api: httpx.Client, media: Path) -> None:
    job = submit(api, media, profile="web", priority=5, project="ep-101")
    assert job["state"] == "queued" and job["fileName"] == "episode.mp4"
    assert job["source"] == {"type": "path", "path": str(media)}
    detail = api.get(f"{JOBS}/{job['id']}").json()
    assert detail["profile"] == "web" and detail["priority"] == 5 and detail["project"] == "ep-101"
    assert detail["fileSize"] == media.stat().st_size
    assert [e["kind"] for e in detail["history"]] == ["enqueued"]
    assert "leaseToken" not in json.dumps(detail) and "lease_token" not in json.dumps(detail)


def test_idempotency_key_returns_the_first_job(api: httpx.Client, media: Path) -> None:
    first = submit(api, media, idempotencyKey="delivery-42")
    again = submit(api, media, idempotencyKey="delivery-42")
    assert again["id"] == first["id"]


def test_upload_is_stored_intact_and_delete_removes_it(
    api: httpx.Client, api_server: Server, short_clip: Path
) -> None:
    data = short_clip.read_bytes()
    reply = api.post(JOBS, files={"file": ("clip one.mp4", data)}, data={"project": "uploads"})
    assert reply.status_code == 201, reply.text
    job = reply.json()
    assert job["source"] == {"type": "upload"} and job["fileName"] == "clip one.mp4"
    stored = [p for p in api_server.uploads() if p.name == "clip one.mp4"]
    assert len(stored) == 1 and stored[0].read_bytes() == data
    gone = api.delete(f"{JOBS}/{job['id']}")
    assert gone.json() == {"id": job["id"], "deleted": True, "state": "cancelled"}
    assert not stored[0].exists()
    assert api.get(f"{JOBS}/{job['id']}").status_code == 404


def test_batch_upload_creates_one_job_per_file(api: httpx.Client) -> None:
    files = [("file", ("a.wav", b"a" * 1000)), ("file", ("b.wav", b"b" * 2000))]
    reply = api.post(JOBS, files=files, data={"profile": "ebu-r128", "priority": "3"})
    assert reply.status_code == 201, reply.text
    jobs = reply.json()["jobs"]
    assert [j["fileName"] for j in jobs] == ["a.wav", "b.wav"]
    assert {j["profile"] for j in jobs} == {"ebu-r128"} and {j["priority"] for j in jobs} == {3}


def test_list_filters_and_cursor_pagination(api: httpx.Client, media: Path) -> None:
    ids = [submit(api, media, project="paging")["id"] for _ in range(5)]
    api.post("/api/qc/cancel", json={"jobId": ids[0]})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"project": "paging", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get(JOBS, params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    cancelled = api.get(JOBS, params={"project": "paging", "state": "cancelled"}).json()["jobs"]
    assert [j["id"] for j in cancelled] == [ids[0]]
    assert api.get(JOBS, params={"project": "nope"}).json()["jobs"] == []


def test_progress_of_one_and_many(api: httpx.Client, media: Path) -> None:
    a, b = submit(api, media)["id"], submit(api, media)["id"]
    one = api.get("/api/qc/progress", params={"jobId": a}).json()
    assert one["id"] == a and one["state"] == "queued" and one["progress"] == 0
    many = api.get("/api/qc/progress", params={"jobIds": f"{a},{b},missing"}).json()
    assert [j["id"] for j in many["jobs"]] == [a, b] and many["notFound"] == ["missing"]


def test_control_cancel_pause_resume_reprocess(api: httpx.Client, media: Path) -> None:
    a, b = submit(api, media)["id"], submit(api, media)["id"]
    paused = api.post("/api/qc/pause", json={"jobIds": [a], "action": "pause"}).json()
    assert [j["state"] for j in paused["jobs"]] == ["paused"]
    resumed = api.post("/api/qc/pause", json={"jobIds": [a], "action": "resume"}).json()
    assert [j["state"] for j in resumed["jobs"]] == ["queued"]
    done = api.post("/api/qc/cancel", json={"jobIds": [a, b]}).json()
    assert [j["state"] for j in done["jobs"]] == ["cancelled", "cancelled"]
    again = api.post("/api/qc/reprocess", json={"jobId": a}).json()
    assert [j["id"] for j in again["jobs"]] == [a] and again["jobs"][0]["state"] == "queued"
    assert api.get(f"{JOBS}/{b}").json()["state"] == "cancelled"  # exactly the job named
    refused = api.post("/api/qc/reprocess", json={"jobIds": [a]}).json()
    assert refused["jobs"] == [] and "queued" in refused["refused"][0]["message"]


def test_a_running_job_is_refused_by_reprocess_and_flagged_by_cancel(
    api: httpx.Client, media: Path, worker_store: JobStore
) -> None:
    done_id = submit(api, media)["id"]
    api.post("/api/qc/cancel", json={"jobId": done_id})
    running_id = submit(api, media, priority=100)["id"]
    claimed = claim(worker_store, running_id)
    reply = api.post("/api/qc/reprocess", json={"jobIds": [done_id, running_id]})
    assert reply.status_code == 409
    assert "running" in reply.json()["error"]["message"]
    assert api.get(f"{JOBS}/{done_id}").json()["state"] == "cancelled"  # nothing re-queued
    flagged = api.post("/api/qc/cancel", json={"jobId": running_id}).json()["jobs"][0]
    assert flagged["state"] == "running"
    assert api.get(f"{JOBS}/{running_id}").json()["cancelRequested"] is True
    assert worker_store.heartbeat(claimed.lease, 10.0, "analyzing").cancel_requested
    worker_store.acknowledge_cancel(claimed.lease)
    assert api.get(f"{JOBS}/{running_id}").json()["state"] == "cancelled"


def test_report_in_json_html_and_csv(
    api: httpx.Client, media: Path, worker_store: JobStore
) -> None:
    job_id = submit(api, media, priority=100)["id"]
    assert api.get(f"{JOBS}/{job_id}/report").json()["error"]["code"] == "report_not_ready"
    claimed = claim(worker_store, job_id)
    report = check_file(media, load_profile("default")).to_dict()
    worker_store.complete(claimed.lease, str(report["verdict"]), report)
    as_json = api.get(f"{JOBS}/{job_id}/report")
    assert as_json.json() == json.loads(json.dumps(report))
    html = api.get(f"{JOBS}/{job_id}/report", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text.lower()
    csv = api.get(f"{JOBS}/{job_id}/report", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") >= 1
    detail = api.get(f"{JOBS}/{job_id}").json()
    assert detail["state"] == "completed" and detail["verdict"] == report["verdict"]
    assert detail["progress"] == 100


def test_debug_retry_specific_requeues_a_failed_job(
    api: httpx.Client, media: Path, worker_store: JobStore
) -> None:
    job_id = submit(api, media, priority=100)["id"]
    claimed = claim(worker_store, job_id)
    worker_store.fail(claimed.lease, "not_media", "not a media file", permanent=True)
    debug = api.get("/api/qc/debug").json()
    assert any(e["jobId"] == job_id and e["code"] == "not_media" for e in debug["recentErrors"])
    reply = api.post("/api/qc/debug", json={"action": "retry_specific", "jobId": job_id})
    assert [j["id"] for j in reply.json()["jobs"]] == [job_id]
    detail = api.get(f"{JOBS}/{job_id}").json()
    assert detail["state"] == "queued" and detail["attempt"] == 0
    assert [e["kind"] for e in detail["history"]][-2:] == ["failed", "requeued"]
    missing = api.post("/api/qc/debug", json={"action": "retry_specific", "jobId": "nope"})
    assert missing.status_code == 404


def test_events_stream_carries_state_changes(
    api_server: Server, api: httpx.Client, media: Path
) -> None:
    events: list[dict[str, Any]] = []
    stop = threading.Event()

    def read() -> None:
        with api_server.client(timeout=httpx.Timeout(10, read=1.0)) as client:
            try:
                with client.stream("GET", "/api/qc/events") as reply:
                    assert reply.headers["content-type"].startswith("text/event-stream")
                    for line in reply.iter_lines():
                        if line.startswith("data: "):
                            events.append(json.loads(line[6:]))
                        if stop.is_set():
                            return
            except httpx.ReadTimeout:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: events, 10, "the ready event")
    job_id = submit(api, media)["id"]
    api.post("/api/qc/cancel", json={"jobId": job_id})
    wait_for(
        lambda: any(e.get("id") == job_id and e["state"] == "cancelled" for e in events),
        10,
        "the cancel event",
    )
    stop.set()
    reader.join(timeout=5)


def test_debug_unknown_action_lists_the_valid_ones(api: httpx.Client) -> None:
    reply = api.post("/api/qc/debug", json={"action": "restart_everything"})
    assert reply.status_code == 400
    message = reply.json()["error"]["message"]
    for action in ("retry_specific", "retry_stuck", "cancel_stuck", "trigger_worker"):
        assert action in message
    no_id = api.post("/api/qc/debug", json={"action": "retry_specific"})
    assert no_id.status_code == 400 and "jobId" in no_id.json()["error"]["message"]
    remote = api.post("/api/qc/debug", json={"action": "trigger_worker"}).json()
    assert remote["embedded"] is False and "--workers 0" in remote["message"]


def test_deleting_a_running_job_fences_its_worker(
    api: httpx.Client, media: Path, worker_store: JobStore
) -> None:
    job_id = submit(api, media, priority=100)["id"]
    claimed = claim(worker_store, job_id)
    gone = api.delete(f"{JOBS}/{job_id}").json()
    assert gone == {"id": job_id, "deleted": True, "state": "running"}
    assert worker_store.heartbeat(claimed.lease, 50.0, "analyzing").lease_held is False
    assert api.get(f"{JOBS}/{job_id}").status_code == 404
