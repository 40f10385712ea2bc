"""Health, metrics and docs endpoints: the runbook's shapes, a live Groq check against a local
fake of its ``/models`` endpoint, and Prometheus text that promtool accepts."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures_server import Server, start_server

COMPONENTS = {"database", "storage", "qc_worker", "ffmpeg", "groq_api", "google_oauth", "reaper"}
STATUSES = {"ok", "warning", "error", "not_configured"}
GROQ_KEY = "gsk_test_secret_key_123"


def full(server: Server) -> dict[str, Any]:
    reply = httpx.get(f"{server.url}/api/health/full", timeout=30)
    assert reply.status_code == 200
    return dict(reply.json())


def test_liveness_needs_no_auth(api_server: Server) -> None:
    reply = httpx.get(f"{api_server.url}/api/health")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


def test_full_health_has_the_runbook_shape(api_server: Server) -> None:
    with api_server.client() as c:
        media = api_server.media_root / "secret-project-file.mov"
        media.write_bytes(b"x")
        job = c.post(
            "/api/qc/jobs",
            json={"source": {"type": "path", "path": str(media)}, "project": "top-secret"},
        ).json()
    report = full(api_server)
    assert set(report) == {"status", "version", *COMPONENTS}
    assert report["status"] in {"ok", "warning", "error"}
    for name in COMPONENTS:
        component = report[name]
        assert component["status"] in STATUSES, (name, component)
        assert set(component) <= {"status", "message", "latency_ms", "details"}
    details = report["qc_worker"]["details"]
    assert {"queued", "running", "stuck", "completed", "failed", "workers"} <= set(details)
    assert details["queued"] >= 1 and details["workers"] == 0
    assert report["qc_worker"]["status"] == "error"  # queued with no live worker (--workers 0)
    assert "no live worker" in report["qc_worker"]["message"]
    assert report["database"]["status"] == "ok"
    assert report["ffmpeg"]["details"]["version"]
    text = json.dumps(report)
    for private in (job["id"], "secret-project-file", "top-secret"):
        assert private not in text


def test_metrics_are_valid_prometheus_text(api_server: Server) -> None:
    reply = httpx.get(f"{api_server.url}/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in reply.text.splitlines()
        if line and not line.startswith("#")
    }
    counts = full(api_server)["qc_worker"]["details"]
    assert samples['kickflow_jobs{state="queued"}'] == counts["queued"]
    assert samples["kickflow_workers_alive"] == 0
    assert samples["kickflow_reaper_last_run_timestamp_seconds"] > 0
    promtool = shutil.which("promtool")
    if promtool:
        lint = subprocess.run(
            [promtool, "check", "metrics"],
            input=reply.text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_openapi_and_docs(api_server: Server) -> None:
    schema = httpx.get(f"{api_server.url}/openapi.json").json()
    assert "/api/qc/jobs" in schema["paths"] and "/api/health/full" in schema["paths"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert httpx.get(f"{api_server.url}/docs").status_code == 200


class FakeGroq(BaseHTTPRequestHandler):
    """Groq's ``GET /models``: 200 with a model list for the right key, 401 otherwise."""

    mode = "ok"
    seen_keys: list[str] = []  # noqa: RUF012 - shared with the test on purpose

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        FakeGroq.seen_keys.append(auth)
        if self.path != "/openai/v1/models":
            self._reply(404, {"error": "not found"})
        elif FakeGroq.mode == "ok" and auth == f"Bearer {GROQ_KEY}":
            self._reply(200, {"object": "list", "data": [{"id": "llama"}, {"id": "whisper"}]})
        else:
            self._reply(401, {"error": {"message": "Invalid API Key"}})

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def fake_groq() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGroq)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeGroq.mode, FakeGroq.seen_keys = "ok", []
    yield f"http://127.0.0.1:{server.server_address[1]}/openai/v1"
    server.shutdown()
    server.server_close()


def test_groq_and_google_when_configured(tmp_path: Path, fake_groq: str) -> None:
    server = start_server(
        tmp_path,
        f"sqlite:///{tmp_path / 'groq.db'}",
        env={
            "KICKFLOW_GROQ_API_KEY": GROQ_KEY,
            "KICKFLOW_GROQ_BASE_URL": fake_groq,
            "KICKFLOW_GOOGLE_CLIENT_ID": "client-123.apps.googleusercontent.com",
        },
    )
    try:
        report = full(server)
        assert report["groq_api"]["status"] == "ok", report["groq_api"]
        assert report["groq_api"]["details"]["models"] == 2
        assert FakeGroq.seen_keys == [f"Bearer {GROQ_KEY}"]
        assert report["google_oauth"]["status"] == "ok"
        FakeGroq.mode = "reject"
        refused = full(server)["groq_api"]
        assert refused["status"] == "error" and "401" in refused["message"]
        assert GROQ_KEY not in json.dumps(full(server))
    finally:
        server.stop()


def test_groq_not_configured_by_default(api_server: Server) -> None:
    report = full(api_server)
    assert report["groq_api"]["status"] == "not_configured"
    assert report["google_oauth"]["status"] == "not_configured"
