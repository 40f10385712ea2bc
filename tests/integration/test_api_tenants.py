"""Tenant isolation and roles: another organisation's token gets 404 or empty, never data; each
route checks the caller's role."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from tests.fixtures_server import Server, wait_for

JOBS = "/api/qc/jobs"


@pytest.fixture(scope="module")
def tenants(api_server: Server) -> dict[str, Any]:
    """Organisation A (local, admin token) with a queued job; organisation B with its own."""
    media = api_server.media_root / "tenant.mov"
    media.write_bytes(b"not really media")
    tokens = {
        "a": api_server.token,
        "b": api_server.token_for("org-b", "admin"),
        "a_viewer": api_server.token_for("local", "viewer"),
        "a_member": api_server.token_for("local", "member"),
    }
    source = {"source": {"type": "path", "path": str(media)}}
    with api_server.client(tokens["a"]) as a, api_server.client(tokens["b"]) as b:
        job_a = a.post(JOBS, json=source | {"project": "secret-a"}).json()
        job_b = b.post(JOBS, json=source).json()
    return {"tokens": tokens, "a": job_a["id"], "b": job_b["id"]}


def as_b(server: Server, tenants: dict[str, Any]) -> httpx.Client:
    return server.client(tenants["tokens"]["b"])


def a_job_unchanged(server: Server, tenants: dict[str, Any]) -> None:
    with server.client(tenants["tokens"]["a"]) as a:
        job = a.get(f"{JOBS}/{tenants['a']}").json()
    assert job["state"] == "queued", job


Case = Callable[[httpx.Client, str], httpx.Response]
NOT_FOUND: dict[str, Case] = {
    "GET /api/qc/jobs/{job_id}": lambda c, j: c.get(f"{JOBS}/{j}"),
    "GET /api/qc/jobs/{job_id}/report": lambda c, j: c.get(f"{JOBS}/{j}/report"),
    # Scoping of listed artefacts is shown on completed jobs in test_api_artifacts_fake.py.
    "GET /api/qc/jobs/{job_id}/artifacts/{name}": lambda c, j: c.get(
        f"{JOBS}/{j}/artifacts/a1-000000-thumb-00.jpg"
    ),
    "DELETE /api/qc/jobs/{job_id}": lambda c, j: c.delete(f"{JOBS}/{j}"),
    "GET /api/qc/progress": lambda c, j: c.get("/api/qc/progress", params={"jobId": j}),
    "POST /api/qc/cancel": lambda c, j: c.post("/api/qc/cancel", json={"jobId": j}),
    "POST /api/qc/pause": lambda c, j: c.post(
        "/api/qc/pause", json={"jobIds": [j], "action": "pause"}
    ),
    "POST /api/qc/reprocess": lambda c, j: c.post("/api/qc/reprocess", json={"jobIds": [j]}),
    "POST /api/qc/debug": lambda c, j: c.post(
        "/api/qc/debug", json={"action": "retry_specific", "jobId": j}
    ),
    "POST /api/qc/jobs/{job_id}/export/sheets": lambda c, j: c.post(f"{JOBS}/{j}/export/sheets"),
}
# Routes answering with the caller's own data only, checked one by one below.
SCOPED = {
    "GET /api/qc/jobs", "POST /api/qc/jobs", "GET /api/qc/debug", "GET /api/qc/events",
    "GET /api/qc/profiles",
    # A project's Sheets export: (organisation, project) is the key, so another organisation
    # only ever reaches its own (tests/integration/test_sheets_api.py).
    "GET /api/qc/projects/{project}/sheets", "PUT /api/qc/projects/{project}/sheets",
    "DELETE /api/qc/projects/{project}/sheets", "POST /api/qc/projects/{project}/sheets/export",
    # Webhook endpoints and deliveries: another organisation's id is 404 on every route
    # (tests/unit/test_api_webhooks.py, tests/integration/test_web_webhooks.py).
    "GET /api/qc/webhooks", "POST /api/qc/webhooks", "GET /api/qc/webhooks/{endpoint_id}",
    "PATCH /api/qc/webhooks/{endpoint_id}", "DELETE /api/qc/webhooks/{endpoint_id}",
    "GET /api/qc/webhooks/{endpoint_id}/deliveries", "POST /api/qc/webhooks/{endpoint_id}/test",
    "POST /api/qc/webhooks/deliveries/{delivery_id}/redeliver",
}  # fmt: skip


def test_every_api_route_is_covered(api_server: Server) -> None:
    schema = httpx.get(f"{api_server.url}/openapi.json").json()
    routes = {
        f"{method.upper()} {path}"
        for path, ops in schema["paths"].items()
        if path.startswith("/api/qc/")
        for method in ops
    }
    assert routes == set(NOT_FOUND) | SCOPED


@pytest.mark.parametrize("route", sorted(NOT_FOUND))
def test_another_organisations_job_is_404(
    api_server: Server, tenants: dict[str, Any], route: str
) -> None:
    with as_b(api_server, tenants) as b:
        reply = NOT_FOUND[route](b, tenants["a"])
    assert reply.status_code == 404, reply.text
    assert tenants["a"] in reply.json()["error"]["message"]
    assert "secret-a" not in reply.text
    a_job_unchanged(api_server, tenants)


def test_lists_show_only_the_callers_jobs(api_server: Server, tenants: dict[str, Any]) -> None:
    with as_b(api_server, tenants) as b:
        ids = [j["id"] for j in b.get(JOBS).json()["jobs"]]
        assert ids == [tenants["b"]]
        assert b.get(JOBS, params={"project": "secret-a"}).json()["jobs"] == []
        many = b.get("/api/qc/progress", params={"jobIds": f"{tenants['a']},{tenants['b']}"})
        assert [j["id"] for j in many.json()["jobs"]] == [tenants["b"]]
        assert many.json()["notFound"] == [tenants["a"]]


def test_profiles_are_the_callers_own(api_server: Server, tenants: dict[str, Any]) -> None:
    store = SqlJobStore(api_server.db_url, Settings())
    try:
        source = 'extends = "web"\n'
        store.save_org_profile(store.require_org("local"), "secret-spec", source, None)
    finally:
        store.close()
    with api_server.client(tenants["tokens"]["a_viewer"]) as a, as_b(api_server, tenants) as b:
        assert "secret-spec" in [p["name"] for p in a.get("/api/qc/profiles").json()["profiles"]]
        listed = b.get("/api/qc/profiles").json()["profiles"]
        assert "secret-spec" not in [p["name"] for p in listed]
        media = api_server.media_root / "tenant.mov"
        body = {"source": {"type": "path", "path": str(media)}, "profile": "secret-spec"}
        refused = b.post(JOBS, json=body)
        assert refused.status_code == 400 and "secret-spec'" in refused.json()["error"]["message"]
        assert "secret-spec" not in refused.json()["error"]["message"].split("(")[1]


def test_debug_counts_only_the_callers_jobs(api_server: Server, tenants: dict[str, Any]) -> None:
    with as_b(api_server, tenants) as b:
        debug = b.get("/api/qc/debug").json()
        assert debug["counts"]["queued"] == 1
        assert tenants["a"] not in json.dumps(debug)
        for action in ("retry_stuck", "cancel_stuck"):
            assert b.post("/api/qc/debug", json={"action": action}).json()["jobs"] == []


def test_cancel_all_touches_only_the_callers_jobs(
    api_server: Server, tenants: dict[str, Any]
) -> None:
    media = api_server.media_root / "tenant.mov"
    with as_b(api_server, tenants) as b:
        extra = b.post(JOBS, json={"source": {"type": "path", "path": str(media)}}).json()
        done = b.post("/api/qc/cancel", json={"all": True}).json()
    assert [j["id"] for j in done["jobs"]] == [tenants["b"], extra["id"]]
    a_job_unchanged(api_server, tenants)


def _collect(server: Server, token: str, into: list[dict[str, Any]], stop: threading.Event) -> None:
    """Read the event stream until ``stop``; short read timeouts, resumed with Last-Event-ID."""
    last_id = ""
    with server.client(token, timeout=httpx.Timeout(10, read=1.0)) as client:
        while not stop.is_set():
            headers = {"Last-Event-ID": last_id} if last_id else {}
            try:
                with client.stream("GET", "/api/qc/events", headers=headers) as reply:
                    for line in reply.iter_lines():
                        if line.startswith("id: "):
                            last_id = line[4:]
                        elif line.startswith("data: "):
                            into.append(json.loads(line[6:]))
            except httpx.ReadTimeout:
                continue


@pytest.fixture
def streams(api_server: Server, tenants: dict[str, Any]) -> Iterator[dict[str, list[Any]]]:
    got: dict[str, list[Any]] = {"a": [], "b": []}
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_collect, args=(api_server, tenants["tokens"][k], got[k], stop), daemon=True
        )
        for k in got
    ]
    for t in threads:
        t.start()
    wait_for(lambda: got["a"] and got["b"], 10, "both event streams to start")
    yield got
    stop.set()
    for t in threads:
        t.join(timeout=5)
        assert not t.is_alive()


def test_event_streams_carry_only_the_callers_jobs(
    api_server: Server, tenants: dict[str, Any], streams: dict[str, list[Any]]
) -> None:
    media = api_server.media_root / "tenant.mov"
    with api_server.client() as a:
        new_a = a.post(JOBS, json={"source": {"type": "path", "path": str(media)}}).json()["id"]
    wait_for(lambda: any(e.get("id") == new_a for e in streams["a"]), 10, "A's event")
    with as_b(api_server, tenants) as b:
        new_b = b.post(JOBS, json={"source": {"type": "path", "path": str(media)}}).json()["id"]
    wait_for(lambda: any(e.get("id") == new_b for e in streams["b"]), 10, "B's event")
    seen_by_b = {e.get("id") for e in streams["b"]}
    assert new_a not in seen_by_b
    assert tenants["a"] not in seen_by_b


def test_roles(api_server: Server, tenants: dict[str, Any]) -> None:
    media = api_server.media_root / "tenant.mov"
    submit = {"source": {"type": "path", "path": str(media)}}
    with api_server.client(tenants["tokens"]["a_viewer"]) as viewer:
        assert viewer.get(JOBS).status_code == 200
        assert viewer.get(f"{JOBS}/{tenants['a']}").status_code == 200
        assert viewer.post(JOBS, json=submit).status_code == 403
        assert viewer.post("/api/qc/cancel", json={"jobId": tenants["a"]}).status_code == 403
        assert viewer.get("/api/qc/debug").json()["error"]["code"] == "forbidden"
    with api_server.client(tenants["tokens"]["a_member"]) as member:
        job = member.post(JOBS, json=submit)
        assert job.status_code == 201
        assert member.post("/api/qc/cancel", json={"jobId": job.json()["id"]}).status_code == 200
        assert member.get("/api/qc/debug").status_code == 403
        assert member.post("/api/qc/debug", json={"action": "retry_stuck"}).status_code == 403


def test_revoked_token_is_refused_at_once(api_server: Server) -> None:
    token = api_server.token_for("local", "member")
    with api_server.client(token) as c:
        assert c.get(JOBS).status_code == 200
        api_server.revoke(token)
        assert c.get(JOBS).status_code == 401
