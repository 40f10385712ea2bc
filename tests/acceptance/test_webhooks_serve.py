"""Webhooks through a real ``kickflow serve`` (SQLite, no worker slots): an admin adds an
endpoint over the API, a job finishes in the service's database, and the service's own
background dispatcher delivers it, signed, to a loopback receiver; a test ping over the API
arrives too; the secret is never in a later answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from tests.contract.harness import wait_for
from tests.fixtures_server import Server, start_server
from tests.integration.webhook_receiver import Receiver

ENV = {
    "KICKFLOW_URL_ALLOW_NETWORKS": "127.0.0.0/8",
    "KICKFLOW_SECRET_KEY": "serve-webhook-key",
    "KICKFLOW_WEBHOOK_INTERVAL_SECONDS": "0.1",
    "KICKFLOW_WEBHOOK_SETTLE_SECONDS": "0",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, f"sqlite:///{tmp_path / 'kickflow.db'}", env=ENV)
    try:
        yield running
    finally:
        running.stop()


def test_the_service_delivers_a_finished_job(server: Server) -> None:
    admin = server.token_for("local", "admin")
    with Receiver() as receiver, server.client(admin) as api:
        made = api.post("/api/qc/webhooks", json={"url": receiver.url, "events": ["job.completed"]})
        assert made.status_code == 201, made.text
        receiver.secret = made.json()["secret"]
        assert receiver.secret not in api.get("/api/qc/webhooks").text
        store = SqlJobStore(server.db_url, Settings(database_url=server.db_url))
        try:
            job = store.enqueue(store.ensure_org(), "path", "/x/EP01.mov", file_name="EP01.mov")
            store.complete(store.claim("w1")[0].lease, "passed", {"n": 1})
        finally:
            store.close()
        wait_for("the delivery", lambda: len(receiver.received) >= 1, 60)
        (got,) = receiver.received
        assert got.data is not None and got.data["job"]["id"] == job.id
        endpoint_id = made.json()["id"]
        ping = api.post(f"/api/qc/webhooks/{endpoint_id}/test")
        assert ping.status_code == 200 and ping.json()["status"] == "delivered", ping.text
        assert receiver.of_event("ping")[0].data is not None
        log = api.get(f"/api/qc/webhooks/{endpoint_id}/deliveries").json()["deliveries"]
        assert {d["event"] for d in log} == {"job.completed", "ping"}
        assert all(d["status"] == "delivered" for d in log)
