"""The user routes in-process on the fake store (``tests/fakes/api.py``): authentication and
roles, tenant scoping, submit (path and multipart upload), list with filters and cursors,
show, report and delete. No server process, no database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.api.auth import WORKER_ONLY
from kickflow.errors import JobNotFound, StoredObjectMissing
from kickflow.jobs import Job, JobState
from tests.fakes.api import WORKER_PREFIX, ApiRig, api_rig

JOBS = "/api/qc/jobs"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    with api_rig(tmp_path) as r:
        yield r


def error_of(reply: httpx.Response, status: int) -> dict[str, Any]:
    """The one error shape, with the expected status."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    error: dict[str, Any] = body["error"]
    return error


def finished(rig: ApiRig, job: Job, report: dict[str, Any] | None = None) -> Job:
    """Run ``job`` (the only due job) to completion as a worker would."""
    [claimed] = rig.store.claim("w1")
    assert claimed.job.id == job.id
    return rig.store.complete(claimed.lease, "passed", report or {"verdict": "passed"})


# --- authentication and roles -----------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401(rig: ApiRig) -> None:
    reply = rig.get(JOBS, role=None)
    assert error_of(reply, 401)["code"] == "unauthorized"
    assert reply.headers["www-authenticate"] == "Bearer"
    bad = rig.get(JOBS, headers={"Authorization": "Bearer kf_not-a-token"}, role=None)
    assert error_of(bad, 401)["message"] == "invalid or revoked token"
    rig.store.revoke_token(rig.tokens["viewer"])
    assert rig.get(JOBS, role="viewer").status_code == 401, "revoked: refused at once"
    assert rig.get(JOBS, role="member").status_code == 200


def test_each_route_needs_its_role(rig: ApiRig) -> None:
    job = rig.add()
    denied = rig.post("/api/qc/cancel", role="viewer", json={"jobId": job.id})
    assert "needs the member role" in error_of(denied, 403)["message"]
    assert error_of(rig.get("/api/qc/debug", role="member"), 403)["code"] == "forbidden"
    assert rig.get("/api/qc/debug", role="admin").status_code == 200
    assert rig.get(f"{JOBS}/{job.id}", role="viewer").status_code == 200
    assert rig.store.get(None, job.id).state is JobState.QUEUED


def test_a_worker_token_is_refused_on_user_routes(rig: ApiRig) -> None:
    job = rig.add()
    for reply in (
        rig.get(JOBS, role="worker"),
        rig.get(f"{JOBS}/{job.id}", role="worker"),
        rig.post("/api/qc/cancel", role="worker", json={"jobId": job.id}),
        rig.get("/api/qc/debug", role="worker"),
    ):
        assert error_of(reply, 403)["message"] == WORKER_ONLY
    assert rig.store.get(None, job.id).state is JobState.QUEUED


def test_a_user_token_is_refused_on_the_worker_api(rig: ApiRig) -> None:
    rig.add()
    headers = {"Kickflow-Worker-Protocol": "1"}
    for role in ("operator", "admin", "viewer"):
        reply = rig.post(f"{WORKER_PREFIX}/claim", role, json={"worker_id": "w1"}, headers=headers)
        assert "needs a worker token" in error_of(reply, 403)["message"]
    assert rig.store.counts(rig.org)["running"] == 0


# --- tenant scoping ---------------------------------------------------------------------------


def test_another_organisations_job_is_404_everywhere(rig: ApiRig) -> None:
    theirs = finished(rig, rig.add("theirs.mov", org=rig.other), {"secret": "theirs"})
    for reply in (
        rig.get(f"{JOBS}/{theirs.id}"),
        rig.get(f"{JOBS}/{theirs.id}/report"),
        rig.post("/api/qc/cancel", json={"jobId": theirs.id}),
        rig.post("/api/qc/pause", json={"jobIds": [theirs.id], "action": "pause"}),
        rig.post("/api/qc/reprocess", json={"jobId": theirs.id}),
        rig.post("/api/qc/debug", json={"action": "retry_specific", "jobId": theirs.id}),
        rig.request("DELETE", f"{JOBS}/{theirs.id}"),
    ):
        error = error_of(reply, 404)
        assert error["code"] == "job_not_found" and "theirs" not in error["message"]
    assert rig.get(JOBS).json()["jobs"] == []
    assert rig.store.get(None, theirs.id) == theirs, "untouched"
    assert rig.get(f"{JOBS}/{theirs.id}/report", role="other").json() == {"secret": "theirs"}


# --- submit -----------------------------------------------------------------------------------


def test_submit_a_path_under_an_allowed_root(rig: ApiRig) -> None:
    clip = rig.media / "clip.mov"
    clip.write_bytes(b"\x00" * 1234)
    body = {"source": {"type": "path", "path": str(clip)}, "project": "ep-1", "priority": 5}
    reply = rig.post(JOBS, role="member", json=body)
    assert reply.status_code == 201, reply.text
    made = reply.json()
    assert (made["state"], made["fileName"], made["project"], made["priority"]) == (
        "queued", "clip.mov", "ep-1", 5,
    )  # fmt: skip
    assert made["source"] == {"type": "path", "path": str(clip)}
    job = rig.store.get(rig.org, made["id"])
    assert (job.source_type, job.source_ref, job.file_size) == ("path", str(clip), 1234)
    keyed = body | {"idempotencyKey": "k-1"}
    first = rig.post(JOBS, role="member", json=keyed).json()
    assert rig.post(JOBS, role="member", json=keyed).json()["id"] == first["id"]
    assert rig.store.counts(rig.org)["queued"] == 2


def test_submit_refusals_are_one_clear_4xx(rig: ApiRig, tmp_path: Path) -> None:
    outside = tmp_path / "outside.mov"
    outside.write_bytes(b"x")
    clip = rig.media / "clip.mov"
    clip.write_bytes(b"x")

    def submit(path: Path, role: str = "member", **extra: Any) -> httpx.Response:
        body = {"source": {"type": "path", "path": str(path)}} | extra
        return rig.post(JOBS, role=role, json=body)

    assert error_of(submit(outside), 400)["code"] == "source_not_allowed"
    assert error_of(submit(rig.media / "missing.mov"), 400)["code"] == "not_found"
    assert error_of(submit(clip, profile="nope"), 400)["code"] == "profile_not_found"
    assert error_of(submit(clip, priority=50), 422)["code"] == "priority_not_allowed"
    assert submit(clip, "admin", priority=50).status_code == 201, "admins may go to ±100"
    assert error_of(submit(clip, colour="red"), 422)["code"] == "validation_error"
    bad_json = rig.post(
        JOBS, role="member", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert error_of(bad_json, 400)["code"] == "malformed_json"
    assert rig.store.counts(rig.org)["queued"] == 1


def test_upload_one_file_or_several(rig: ApiRig) -> None:
    one = rig.post(
        JOBS, role="member", files=[("file", ("take1.mov", b"abcdef", "video/quicktime"))],
        data={"project": "dub"},
    )  # fmt: skip
    assert one.status_code == 201, one.text
    made = one.json()
    assert (made["fileName"], made["project"], made["source"]) == (
        "take1.mov", "dub", {"type": "upload"},
    )  # fmt: skip
    job = rig.store.get(rig.org, made["id"])
    assert (job.source_type, job.file_size) == ("upload", 6)
    assert rig.services.storage.stat(job.source_ref).size == 6
    files = [("file", (f"part{i}.wav", bytes([i]) * (i + 1), "audio/wav")) for i in range(3)]
    several = rig.post(JOBS, role="member", files=files)
    assert several.status_code == 201, several.text
    names = [j["fileName"] for j in several.json()["jobs"]]
    assert names == ["part0.wav", "part1.wav", "part2.wav"]
    assert rig.store.counts(rig.org)["queued"] == 4


def test_an_upload_without_a_file_stores_nothing(rig: ApiRig) -> None:
    reply = rig.post(JOBS, role="member", files={"notes": (None, b"hello")})
    assert "at least one file" in error_of(reply, 400)["message"]
    assert rig.store.counts(rig.org)["queued"] == 0


# --- list, show, report, delete ---------------------------------------------------------------


def test_list_filters_and_pages_with_a_cursor(rig: ApiRig) -> None:
    done = finished(rig, rig.add("done.mov", project="p"))
    added = [rig.add(f"{i}.mov", project="p" if i % 2 else None) for i in range(4)]
    rig.add("theirs.mov", org=rig.other)
    seen: list[str] = []
    page = rig.get(JOBS, role="viewer", params={"limit": 2}).json()
    while True:
        seen += [j["id"] for j in page["jobs"]]
        if page["nextCursor"] is None:
            break
        params = {"limit": 2, "cursor": page["nextCursor"]}
        page = rig.get(JOBS, role="viewer", params=params).json()
    assert seen == [j.id for j in reversed([done, *added])], "newest first, ours only"

    def ids(**params: Any) -> list[str]:
        reply = rig.get(JOBS, role="viewer", params=params)
        assert reply.status_code == 200, reply.text
        return [j["id"] for j in reply.json()["jobs"]]

    assert ids(state="completed") == [done.id] == ids(verdict="passed")
    assert ids(project="p") == [added[3].id, added[1].id, done.id]
    assert ids(state="queued", project="p") == [added[3].id, added[1].id]
    assert error_of(rig.get(JOBS, params={"cursor": "garbage"}), 400)["message"].startswith(
        "invalid cursor"
    )
    assert error_of(rig.get(JOBS, params={"state": "exploded"}), 422)["code"] == "validation_error"
    assert error_of(rig.get(JOBS, params={"limit": 0}), 422)["code"] == "validation_error"


def test_show_has_the_history_and_no_lease_token(rig: ApiRig) -> None:
    job = rig.add()
    [claimed] = rig.store.claim("w1")
    detail = rig.get(f"{JOBS}/{job.id}", role="viewer").json()
    assert (detail["id"], detail["state"], detail["attempt"]) == (job.id, "running", 1)
    assert [e["kind"] for e in detail["history"]] == ["enqueued", "claimed"]
    assert claimed.lease.token not in str(detail)
    assert error_of(rig.get(f"{JOBS}/not%20an%20id"), 422)["code"] == "validation_error"


def test_the_report_is_there_once_the_job_completed(rig: ApiRig) -> None:
    job = rig.add()
    assert error_of(rig.get(f"{JOBS}/{job.id}/report"), 409)["code"] == "report_not_ready"
    report = {"verdict": "needs_review", "findings": [{"id": "loudness", "at": 1.5}]}
    finished(rig, job, report)
    assert rig.get(f"{JOBS}/{job.id}/report", role="viewer").json() == report


def test_delete_cancels_an_active_job_and_removes_its_upload(rig: ApiRig) -> None:
    made = rig.post(JOBS, role="member", files=[("file", ("a.mov", b"abc", "video/mp4"))]).json()
    ref = rig.store.get(rig.org, made["id"]).source_ref
    reply = rig.request("DELETE", f"{JOBS}/{made['id']}", role="member")
    assert reply.json() == {"id": made["id"], "deleted": True, "state": "cancelled"}
    with pytest.raises(JobNotFound):
        rig.store.get(None, made["id"])
    with pytest.raises(StoredObjectMissing):
        rig.services.storage.stat(ref)
    assert error_of(rig.request("DELETE", f"{JOBS}/{made['id']}"), 404)["code"] == "job_not_found"
    assert rig.request("DELETE", f"{JOBS}/{rig.add().id}", role="viewer").status_code == 403
