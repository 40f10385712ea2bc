"""Control, the runbook's debug actions, health and metrics, in-process on the fake store
(``tests/fakes/api.py``). Stuck jobs are made with the fake's hooks (its clock, ``edit``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kickflow.jobs import Claimed, Job, JobState, Lease
from tests.fakes.api import ApiRig, api_rig, error_code, ok

Q, R, F, X, P = (
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.PAUSED,
)
DEBUG = "/api/qc/debug"
COMPONENTS = ("database", "storage", "qc_worker", "ffmpeg", "groq_api", "google_oauth", "reaper")
STATUSES = {"ok", "warning", "error", "not_configured"}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    with api_rig(tmp_path) as r:
        yield r


def running(rig: ApiRig, name: str = "run.mov", org: str | None = None) -> Claimed:
    """A job claimed by a worker (added and claimed at once: nothing else is due first)."""
    job = rig.add(name, org=org, priority=100)
    [claimed] = rig.store.claim("w1")
    assert claimed.job.id == job.id
    return claimed


def failed(rig: ApiRig, name: str = "bad.mov") -> Job:
    lease = running(rig, name).lease
    return rig.store.fail(lease, "not_media", "not a media file", permanent=True)


def stuck(rig: ApiRig, name: str = "stuck.mov", org: str | None = None) -> Lease:
    """A running job whose lease ran out (its worker stopped heartbeating)."""
    lease = running(rig, name, org).lease
    rig.store.edit(lease.job_id, lease_expires_at=rig.clock.current - 1.0)
    return lease


def state(rig: ApiRig, job_id: str) -> JobState:
    return rig.store.get(None, job_id).state


# --- cancel, pause, reprocess -----------------------------------------------------------------


def test_cancel_ends_a_waiting_job_and_asks_a_running_one(rig: ApiRig) -> None:
    run = running(rig)
    waiting = rig.add("waiting.mov")
    body = ok(rig.post("/api/qc/cancel", role="member", json={"jobIds": [waiting.id, run.job.id]}))
    assert [(j["id"], j["state"]) for j in body["jobs"]] == [
        (waiting.id, "cancelled"), (run.job.id, "running"),
    ]  # fmt: skip
    assert body["refused"] == []
    assert rig.store.get(None, run.job.id).cancel_requested
    assert rig.store.heartbeat(run.lease, 10.0, "analyzing").cancel_requested
    again = ok(rig.post("/api/qc/cancel", json={"jobId": waiting.id}))
    assert again["jobs"] == [] and "cancelled" in again["refused"][0]["message"]
    assert error_code(rig.post("/api/qc/cancel", json={"jobId": "missing"}), 404) == (
        "job_not_found"
    )
    assert error_code(rig.post("/api/qc/cancel", json={}), 422) == "validation_error"


def test_cancel_all_cancels_the_organisations_active_jobs_only(rig: ApiRig) -> None:
    mine = [rig.add(f"{i}.mov") for i in range(2)]
    theirs = rig.add("theirs.mov", org=rig.other)
    body = ok(rig.post("/api/qc/cancel", json={"all": True}))
    assert {j["id"] for j in body["jobs"]} == {j.id for j in mine}
    assert all(state(rig, j.id) is X for j in mine) and state(rig, theirs.id) is Q


def test_a_database_fault_in_a_bulk_call_is_503_not_a_refusal(rig: ApiRig) -> None:
    a, b = rig.add("a.mov"), rig.add("b.mov")
    rig.store.db.fail_next("cancel")
    reply = rig.post("/api/qc/cancel", json={"jobIds": [a.id, b.id]})
    assert error_code(reply, 503) == "database_error"
    assert (state(rig, a.id), state(rig, b.id)) == (Q, Q), "the next job was not tried"


def test_pause_and_resume(rig: ApiRig) -> None:
    a, b = rig.add("a.mov"), rig.add("b.mov")
    body = ok(rig.post("/api/qc/pause", json={"jobIds": [a.id, b.id], "action": "pause"}))
    assert [j["state"] for j in body["jobs"]] == ["paused", "paused"]
    assert rig.store.claim("w1") == []
    twice = ok(rig.post("/api/qc/pause", json={"jobIds": [a.id], "action": "pause"}))
    assert twice["jobs"] == [] and twice["refused"][0]["jobId"] == a.id
    ok(rig.post("/api/qc/pause", json={"jobIds": [a.id], "action": "resume"}))
    assert (state(rig, a.id), state(rig, b.id)) == (Q, P)
    bad = rig.post("/api/qc/pause", json={"jobIds": [a.id], "action": "stop"})
    assert error_code(bad, 422) == "validation_error"


def test_reprocess_reruns_exactly_those_jobs_and_refuses_a_running_one(rig: ApiRig) -> None:
    dead = failed(rig)
    run = running(rig)
    both = rig.post("/api/qc/reprocess", json={"jobIds": [dead.id, run.job.id]})
    assert error_code(both, 409) == "job_running"
    assert state(rig, dead.id) is F, "nothing was re-queued"
    body = ok(rig.post("/api/qc/reprocess", role="member", json={"jobId": dead.id}))
    assert [(j["id"], j["state"], j["attempt"]) for j in body["jobs"]] == [(dead.id, "queued", 0)]
    assert rig.store.events(dead.id)[-1].kind == "requeued"
    assert error_code(rig.post("/api/qc/reprocess", json={}), 422) == "validation_error"


# --- the runbook's debug endpoint -------------------------------------------------------------


def test_debug_shows_counts_stuck_jobs_and_recent_errors(rig: ApiRig) -> None:
    dead = failed(rig)
    lease = stuck(rig)
    rig.store.register_worker("w1", "host", 42, 2)
    body = ok(rig.get(DEBUG))
    assert body["counts"]["failed"] == 1 and body["counts"]["stuck"] == 1
    [entry] = body["stuckJobs"]
    assert (entry["id"], entry["status"], entry["attempt"]) == (lease.job_id, "running", 1)
    assert entry["lastHeartbeatAt"] and entry["fileName"] == "stuck.mov"
    assert [(e["kind"], e["jobId"]) for e in body["recentErrors"]] == [("failed", dead.id)]
    assert [w["id"] for w in body["workers"]] == ["w1"]
    assert body["queuePaused"] is False and body["reaper"]["last_run"] is None


def test_retry_stuck_requeues_at_once_and_fences_the_old_worker(rig: ApiRig) -> None:
    lease = stuck(rig)
    healthy = running(rig, "healthy.mov")
    body = ok(rig.post(DEBUG, json={"action": "retry_stuck"}))
    assert body["action"] == "retry_stuck"
    assert [j["id"] for j in body["jobs"]] == [lease.job_id] and body["refused"] == []
    assert state(rig, lease.job_id) is Q and state(rig, healthy.job.id) is R
    assert not rig.store.heartbeat(lease, 50.0, "analyzing").lease_held


def test_cancel_stuck_ends_stuck_jobs_once_the_clock_says_so(rig: ApiRig) -> None:
    a, b = running(rig, "a.mov"), running(rig, "b.mov")
    assert ok(rig.post(DEBUG, json={"action": "cancel_stuck"}))["jobs"] == []
    rig.clock.advance(rig.store.settings.lease_seconds + 1)  # both workers went silent
    body = ok(rig.post(DEBUG, json={"action": "cancel_stuck"}))
    assert {j["id"] for j in body["jobs"]} == {a.job.id, b.job.id}
    assert rig.store.get(None, a.job.id).error_code == "cancelled_stuck"


def test_retry_specific_takes_one_job_or_several(rig: ApiRig) -> None:
    dead, lease, healthy = failed(rig), stuck(rig), running(rig, "healthy.mov")
    one = ok(rig.post(DEBUG, json={"action": "retry_specific", "jobId": lease.job_id}))
    assert [j["state"] for j in one["jobs"]] == ["queued"]
    refused = rig.post(DEBUG, json={"action": "retry_specific", "jobId": healthy.job.id})
    assert error_code(refused, 400) == "invalid_request"
    assert "not stuck" in refused.json()["error"]["message"]
    assert state(rig, healthy.job.id) is R
    theirs = rig.add("theirs.mov", org=rig.other)
    many = ok(rig.post(DEBUG, json={"action": "retry_specific", "jobIds": [dead.id, theirs.id]}))
    assert [j["id"] for j in many["jobs"]] == [dead.id]
    assert many["refused"] == [{"jobId": theirs.id, "message": f"no job {theirs.id}"}]
    neither = rig.post(DEBUG, json={"action": "retry_specific"})
    assert error_code(neither, 400) == "invalid_request"


def test_every_organisation_is_for_operators_only(rig: ApiRig) -> None:
    mine, theirs = stuck(rig, "mine.mov"), stuck(rig, "theirs.mov", org=rig.other)
    wide = {"action": "retry_stuck", "allOrganisations": True}
    assert error_code(rig.post(DEBUG, role="admin", json=wide), 403) == "forbidden"
    assert error_code(rig.get(DEBUG, params={"allOrganisations": "true"}), 403) == "forbidden"
    assert state(rig, theirs.job_id) is R
    seen = ok(rig.get(DEBUG, role="operator", params={"allOrganisations": "true"}))
    assert {j["id"] for j in seen["stuckJobs"]} == {mine.job_id, theirs.job_id}
    body = ok(rig.post(DEBUG, role="operator", json=wide))
    assert {j["id"] for j in body["jobs"]} == {mine.job_id, theirs.job_id}


def test_unknown_actions_and_trigger_worker_without_embedded_workers(rig: ApiRig) -> None:
    unknown = rig.post(DEBUG, json={"action": "reboot"})
    assert error_code(unknown, 400) == "unknown_action"
    assert "retry_specific" in unknown.json()["error"]["message"]
    body = ok(rig.post(DEBUG, json={"action": "trigger_worker"}))
    assert (body["embedded"], body["liveWorkers"]) == (False, 0)


# --- health and metrics -----------------------------------------------------------------------


def test_health_full_has_every_component_of_the_runbook(rig: ApiRig) -> None:
    rig.add()
    stuck(rig)
    assert ok(rig.get("/api/health", role=None))["status"] == "ok"
    body = ok(rig.get("/api/health/full", role=None))
    assert body["status"] == "error", "a stuck job is an error"
    assert set(COMPONENTS) <= set(body)
    assert all(body[name]["status"] in STATUSES for name in COMPONENTS)
    assert body["database"] == body["database"] | {"status": "ok", "message": "fake reachable"}
    details = body["qc_worker"]["details"]
    assert {k: details[k] for k in ("queued", "running", "stuck", "completed", "failed")} == {
        "queued": 1, "running": 1, "stuck": 1, "completed": 0, "failed": 0,
    }  # fmt: skip
    assert details["workers"] == 0
    assert body["qc_worker"]["status"] == "error" and "stuck" in body["qc_worker"]["message"]
    assert body["groq_api"]["status"] == "not_configured"
    assert body["reaper"]["status"] == "warning", "the reaper has not run yet"


def test_health_full_says_when_the_store_is_unreachable(rig: ApiRig) -> None:
    rig.store.db.fail_next("ping")
    body = ok(rig.get("/api/health/full", role=None))
    assert body["database"]["status"] == "error" and body["status"] == "error"
    assert "injected" not in str(body["database"]), "the class's sentence, not the details"


def test_metrics_are_prometheus_text(rig: ApiRig) -> None:
    rig.add()
    failed(rig)
    stuck(rig)
    rig.store.reap()
    reply = rig.get("/metrics", role=None)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    lines = set(reply.text.splitlines())
    for line in (
        'kickflow_jobs{state="queued"} 2.0',
        'kickflow_jobs{state="failed"} 1.0',
        "kickflow_jobs_stuck 0.0",
        'kickflow_jobs_finished_total{state="failed"} 1.0',
        'kickflow_recoveries_total{reason="lease_expired"} 1.0',
        "kickflow_fenced_writes_total 0.0",
        "kickflow_job_attempts_count 1.0",
    ):
        assert line in lines, f"{line!r} not in /metrics"
