"""The ``worker`` role over HTTP (the app served by uvicorn in this process on loopback, a real
database): a worker token is refused by every user route with one clear 403, and
``WorkerPrincipal`` lets only worker tokens through."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kickflow.api import create_app
from kickflow.api.auth import WORKER_ONLY, WorkerPrincipal
from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from tests.fixtures_server import free_port, wait_for

PROBE = "/api/worker/v1/test-probe"
SOME_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def app(store: SqlJobStore, job_settings: Settings) -> FastAPI:
    app = create_app(job_settings, store=store)

    def probe(principal: WorkerPrincipal) -> dict[str, Any]:
        return {"org": principal.org_id, "role": principal.role}

    app.add_api_route(PROBE, probe, methods=["POST"])
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[httpx.Client]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the in-process server")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=30) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def tokens(store: SqlJobStore) -> dict[str, str]:
    org = store.ensure_org("studio")
    roles = ("viewer", "member", "admin", "operator", "worker")
    return {r: store.create_token(org, r).secret for r in roles}  # type: ignore[arg-type]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path with ids filled in) of every route under /api/qc, from the OpenAPI
    document (what the app really serves)."""
    out = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api/qc"):
            filled = re.sub(r"\{[^}]+\}", SOME_ID, path)
            out += [(method.upper(), filled) for method in sorted(operations)]
    return out


def test_every_user_route_refuses_a_worker_token(
    app: FastAPI, client: httpx.Client, tokens: dict[str, str]
) -> None:
    routes = user_routes(app)
    assert ("GET", "/api/qc/jobs") in routes and ("POST", "/api/qc/debug") in routes
    for method, path in routes:
        reply = client.request(method, path, headers=bearer(tokens["worker"]), json={})
        assert reply.status_code == 403, (method, path, reply.text)
        assert reply.json() == {"error": {"code": "forbidden", "message": WORKER_ONLY}}
    assert "/api/worker/v1" in WORKER_ONLY


def test_user_tokens_still_reach_their_routes(client: httpx.Client, tokens: dict[str, str]) -> None:
    for role in ("viewer", "member", "admin", "operator"):
        assert client.get("/api/qc/jobs", headers=bearer(tokens[role])).status_code == 200
    assert client.get("/api/qc/debug", headers=bearer(tokens["viewer"])).status_code == 403


def test_the_worker_dependency_accepts_only_worker_tokens(
    client: httpx.Client, tokens: dict[str, str], store: SqlJobStore
) -> None:
    ok = client.post(PROBE, headers=bearer(tokens["worker"]))
    assert ok.status_code == 200 and ok.json() == {
        "org": store.find_org("studio"),
        "role": "worker",
    }
    for role in ("viewer", "member", "admin", "operator"):
        refused = client.post(PROBE, headers=bearer(tokens[role]))
        assert refused.status_code == 403, role
        message = refused.json()["error"]["message"]
        assert "needs a worker token" in message and f"your token is {role}" in message
    assert client.post(PROBE).status_code == 401
    store.revoke_token(tokens["worker"])
    assert client.post(PROBE, headers=bearer(tokens["worker"])).status_code == 401


def test_health_and_metrics_read_through_the_store(client: httpx.Client) -> None:
    full = client.get("/api/health/full").json()
    assert full["database"]["status"] == "ok" and "reachable" in full["database"]["message"]
    assert set(full["qc_worker"]["details"]) >= {"queued", "running", "stuck", "completed"}
    scraped = client.get("/metrics")
    assert scraped.status_code == 200 and "kickflow_jobs" in scraped.text
