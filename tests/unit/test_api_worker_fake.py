"""The worker protocol routes (``/api/worker/v1``) in-process on the fake store
(``tests/fakes/api.py``): registry, claim, heartbeat, the fenced final writes and their
replays, the protocol header, and the job's input with ranged downloads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.jobs import JobState, Lease
from kickflow.worker import protocol as wire
from tests.fakes.api import WORKER_PREFIX, ApiRig, api_rig, error_code, ok

CONTENT = bytes(range(10))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    with api_rig(tmp_path) as r:
        yield r


def claim(rig: ApiRig, worker_id: str = "w1") -> dict[str, Any]:
    """Claim one job over the protocol; its wire lease."""
    [claimed] = ok(rig.worker("claim", {"worker_id": worker_id}))["claimed"]
    lease: dict[str, Any] = claimed["lease"]
    return lease


def forged(lease: dict[str, Any]) -> dict[str, Any]:
    return lease | {"token": "f" * 32}


def upload(rig: ApiRig, content: bytes = CONTENT) -> str:
    """An uploaded job (through the user API); its id."""
    files = [("file", ("take.mov", content, "video/quicktime"))]
    reply = rig.post("/api/qc/jobs", role="member", files=files)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def download(rig: ApiRig, job_id: str, token: str, **headers: str) -> httpx.Response:
    sent = {wire.VERSION_HEADER: str(wire.VERSION), wire.LEASE_TOKEN_HEADER: token, **headers}
    return rig.get(f"{WORKER_PREFIX}/leases/{job_id}/file", "worker", headers=sent)


# --- the protocol header and the registry -----------------------------------------------------


def test_every_call_states_the_protocol_version(rig: ApiRig) -> None:
    rig.add()
    path = f"{WORKER_PREFIX}/claim"
    missing = rig.post(path, "worker", json={"worker_id": "w1"})
    assert error_code(missing, 426) == "protocol_version"
    assert "worker protocol 1" in missing.json()["error"]["message"]
    older = rig.post(path, "worker", json={"worker_id": "w1"}, headers={wire.VERSION_HEADER: "0"})
    assert error_code(older, 426) == "protocol_version"
    assert rig.store.counts(rig.org)["running"] == 0, "nothing was claimed"


def test_workers_register_heartbeat_and_are_listed(rig: ApiRig) -> None:
    body = {"worker_id": "w-1", "hostname": "nas", "pid": 7, "concurrency": 2}
    assert ok(rig.worker("workers/register", body)) == {"registered": "w-1"}
    assert ok(rig.worker("workers/heartbeat", {"worker_id": "w-1"})) == {"ok": True}
    [live] = ok(rig.worker("workers/live", {}))["workers"]
    assert (live["id"], live["hostname"], live["concurrency"]) == ("w-1", "nas", 2)
    assert rig.store.registered_workers("nas") == {"w-1": 7}
    ok(rig.worker("workers/heartbeat", {"worker_id": "w-1", "state": "stopped"}))
    assert ok(rig.worker("workers/live", {}))["workers"] == []
    bad = rig.worker("workers/register", body | {"concurrency": 0})
    assert error_code(bad, 422) == "validation_error"


# --- claim, heartbeat, complete ---------------------------------------------------------------


def test_claim_hands_out_a_lease_once(rig: ApiRig) -> None:
    job = rig.add()
    [claimed] = ok(rig.worker("claim", {"worker_id": "w1", "limit": 5}))["claimed"]
    assert claimed["job"]["id"] == job.id and claimed["job"]["state"] == "running"
    assert claimed["job"]["report"] is None
    lease = wire.lease_from_wire(claimed["lease"])
    assert (lease.job_id, lease.attempt, lease.worker_id) == (job.id, 1, "w1")
    stored = rig.store.get(None, job.id)
    assert stored.state is JobState.RUNNING and stored.lease_token == lease.token
    assert ok(rig.worker("claim", {"worker_id": "w2"})) == {"claimed": []}


def test_heartbeat_extends_the_lease_and_carries_cancel_requests(rig: ApiRig) -> None:
    job = rig.add()
    lease = claim(rig)
    rig.clock.advance(20.0)
    beat = {"lease": lease, "progress": 40.0, "phase": "analyzing"}
    assert ok(rig.worker("leases/heartbeat", beat)) == {
        "lease_held": True, "cancel_requested": False, "pause_requested": False,
    }  # fmt: skip
    stored = rig.store.get(None, job.id)
    assert (stored.progress, stored.phase) == (40.0, "analyzing")
    assert stored.lease_expires_at == pytest.approx(rig.clock.current + 30.0, abs=0.01)
    rig.post("/api/qc/cancel", role="member", json={"jobId": job.id})
    assert ok(rig.worker("leases/heartbeat", beat))["cancel_requested"] is True
    lost = ok(rig.worker("leases/heartbeat", beat | {"lease": forged(lease)}))
    assert lost["lease_held"] is False
    assert rig.store.events(job.id)[-1].kind == "fenced"


def test_complete_is_accepted_once_and_a_replay_says_so(rig: ApiRig) -> None:
    job = rig.add()
    lease = claim(rig)
    body = {"lease": lease, "verdict": "needs_review", "report": {"findings": [1, 2]}}
    first = ok(rig.worker("leases/complete", body))
    assert first["job"]["state"] == "completed" and "replayed" not in first
    again = ok(rig.worker("leases/complete", body))
    assert again["replayed"] is True and again["job"]["id"] == job.id
    stored = rig.store.get(None, job.id)
    assert (stored.verdict, stored.report) == ("needs_review", {"findings": [1, 2]})
    kinds = [e.kind for e in rig.store.events(job.id)]
    assert kinds.count("completed") == 1 and "fenced" not in kinds, "no second write"


def test_a_forged_lease_is_409_lease_lost_and_recorded(rig: ApiRig) -> None:
    job = rig.add()
    lease = claim(rig)
    body = {"lease": forged(lease), "verdict": "passed", "report": {}}
    reply = rig.worker("leases/complete", body)
    assert error_code(reply, 409) == "lease_lost"
    fail = {"lease": forged(lease), "code": "x", "message": "x", "permanent": True}
    assert error_code(rig.worker("leases/fail", fail), 409) == "lease_lost"
    assert rig.store.get(None, job.id).state is JobState.RUNNING, "the real lease still holds"
    assert [e.kind for e in rig.store.events(job.id)][-2:] == ["fenced", "fenced"]
    ok(rig.worker("leases/complete", {"lease": lease, "verdict": "passed", "report": {}}))


def test_a_lease_taken_over_is_fenced_off_after_the_reaper(rig: ApiRig) -> None:
    job = rig.add()
    old = claim(rig, "w1")
    rig.clock.advance(31.0)
    assert rig.store.reap().requeued == [job.id]
    rig.store.edit(job.id, run_at=rig.clock.current)  # its backoff is over
    new = claim(rig, "w2")
    assert new["attempt"] == 2
    body = {"lease": old, "verdict": "passed", "report": {}}
    assert error_code(rig.worker("leases/complete", body), 409) == "lease_lost"
    ok(rig.worker("leases/complete", body | {"lease": new}))


def test_fail_release_and_complete_many(rig: ApiRig) -> None:
    a, b, c = rig.add("a.mov"), rig.add("b.mov"), rig.add("c.mov")
    claimed = ok(rig.worker("claim", {"worker_id": "w1", "limit": 3}))["claimed"]
    leases = {item["job"]["id"]: item["lease"] for item in claimed}
    fail = {
        "lease": leases[a.id],
        "code": "ffmpeg_stalled",
        "message": "stalled",
        "permanent": False,
    }
    assert ok(rig.worker("leases/fail", fail))["job"]["state"] == "queued"
    assert ok(rig.worker("leases/fail", fail))["replayed"] is True
    assert rig.store.events(a.id)[-1].kind == "retry_scheduled"
    released = ok(rig.worker("leases/release", {"lease": leases[b.id]}))["job"]
    assert (released["state"], released["attempt"]) == ("queued", 0)
    results = [
        {"lease": leases[c.id], "verdict": "passed", "report": {}},
        {"lease": forged(leases[b.id]), "verdict": "passed", "report": {}},
    ]
    assert ok(rig.worker("leases/complete-many", {"results": results})) == {
        "accepted": [True, False]
    }
    assert rig.store.get(None, c.id).state is JobState.COMPLETED


# --- the job's input --------------------------------------------------------------------------


def test_input_says_where_the_file_is(rig: ApiRig) -> None:
    rig.add()
    path_lease = claim(rig)
    assert ok(rig.worker("leases/input", {"lease": path_lease})) == {"kind": "path"}
    job_id = upload(rig)
    lease = claim(rig)
    assert lease["job_id"] == job_id
    answer = ok(rig.worker("leases/input", {"lease": lease}))
    assert answer["kind"] == "download" and answer["size"] == len(CONTENT)
    assert answer["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert error_code(rig.worker("leases/input", {"lease": forged(lease)}), 409) == "lease_lost"


def test_the_file_downloads_whole_or_from_an_offset(rig: ApiRig) -> None:
    job_id = upload(rig)
    token = claim(rig)["token"]
    whole = download(rig, job_id, token)
    assert whole.status_code == 200 and whole.content == CONTENT
    assert whole.headers[wire.SHA256_HEADER] == hashlib.sha256(CONTENT).hexdigest()
    assert whole.headers["accept-ranges"] == "bytes"
    part = download(rig, job_id, token, Range="bytes=3-")
    assert part.status_code == 206 and part.content == CONTENT[3:]
    assert part.headers["content-range"] == f"bytes 3-9/{len(CONTENT)}"
    assert error_code(download(rig, job_id, token, Range="bytes=0-4"), 400) == "invalid_request"
    assert error_code(download(rig, job_id, token, Range="bytes=99-"), 400) == "invalid_request"
    assert error_code(download(rig, job_id, "f" * 32), 409) == "lease_lost"


def test_a_path_job_has_no_file_to_download(rig: ApiRig) -> None:
    rig.add()
    lease = Lease(**claim(rig))
    assert error_code(download(rig, lease.job_id, lease.token), 404) == "not_found"
