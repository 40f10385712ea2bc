"""The API in-process on the fake store, for route unit tests: ``create_app(settings,
store=fake)`` driven through httpx's ``ASGITransport`` — no server process, no database.
(Starlette's ``TestClient`` does the same, but warns that it wants ``httpx2``.)

    with api_rig(tmp_path) as rig:
        rig.get("/api/qc/jobs", role="viewer")          # a bearer token of that role
        rig.store.edit(job_id, lease_expires_at=0.0)     # the fake's hooks, as usual
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from kickflow.api.app import create_app
from kickflow.api.context import Services
from kickflow.config import Settings
from kickflow.jobs import ROLES, Job, Role
from kickflow.worker import protocol as wire
from tests.fakes.clock import FakeClock
from tests.fakes.store import FakeJobStore

WORKER_PREFIX = wire.PREFIX


def rig_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Local storage under ``tmp_path/data``, path sources from ``tmp_path/media``, long
    leases (time moves only on the fake clock), no outbound probe configured."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data", "database_url": "", "storage": "local",
        "allowed_roots": str(tmp_path / "media"), "lease_seconds": 30.0,
        "heartbeat_seconds": 10.0, "stuck_after_seconds": 60.0, "retry_base_seconds": 10.0,
        "retry_max_seconds": 15.0, "max_attempts": 3, "org_max_running": 0,
        "member_max_priority": 10, "groq_api_key": "", "google_client_id": "",
    }  # fmt: skip
    return Settings(**(values | overrides))


class AppClient:
    """A synchronous client of an ASGI app in this process: every request runs on one event
    loop in a helper thread (anyio's blocking portal), as Starlette's TestClient does. The
    app's lifespan is not run (``create_app`` starts nothing without ``background``)."""

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self.portal = portal
        transport = httpx.ASGITransport(app=app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.portal.call(partial(self.http.request, method, url, **kw))

    def close(self) -> None:
        self.portal.call(self.http.aclose)


@dataclass
class ApiRig:
    """The app, its fake store and one token per role in the organisation ``org`` (and an
    admin token of a second organisation, ``other``)."""

    store: FakeJobStore
    app: FastAPI
    client: AppClient
    media: Path
    org: str
    other: str
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def clock(self) -> FakeClock:
        return self.store.clock

    @property
    def services(self) -> Services:
        svc: Services = self.app.state.services
        return svc

    def auth(self, role: Role | str | None) -> dict[str, str]:
        """The Authorization header of ``role``'s token (``"other"``: the other organisation's
        admin; None: no header)."""
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    def request(
        self, method: str, path: str, role: Role | str | None = "admin", **kw: Any
    ) -> httpx.Response:
        headers = self.auth(role) | kw.pop("headers", {})
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, role: Role | str | None = "admin", **kw: Any) -> httpx.Response:
        return self.request("GET", path, role, **kw)

    def post(self, path: str, role: Role | str | None = "admin", **kw: Any) -> httpx.Response:
        return self.request("POST", path, role, **kw)

    def worker(self, call: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        """A worker protocol call (worker token, protocol header) to ``/api/worker/v1/<call>``."""
        sent = {wire.VERSION_HEADER: str(wire.VERSION), **headers}
        return self.post(f"{WORKER_PREFIX}/{call}", "worker", json=body, headers=sent)

    def add(self, name: str = "a.mov", org: str | None = None, **kw: Any) -> Job:
        """A queued path job straight in the store (``org``: default the rig's)."""
        return self.store.enqueue(org or self.org, "path", f"/media/{name}", file_name=name, **kw)


def ok(reply: httpx.Response) -> dict[str, Any]:
    """The JSON body of a 200 reply (the reply's text on any other status)."""
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def error_code(reply: httpx.Response, status: int) -> str:
    """The ``error.code`` of a reply that must have ``status``."""
    assert reply.status_code == status, reply.text
    return str(reply.json()["error"]["code"])


@contextmanager
def api_rig(tmp_path: Path, **settings: Any) -> Iterator[ApiRig]:
    """An :class:`ApiRig` on a fresh fake store (settings: :func:`rig_settings` overrides)."""
    s = rig_settings(tmp_path, **settings)
    (tmp_path / "media").mkdir(exist_ok=True)
    store = FakeJobStore(s, clock=FakeClock())
    org, other = store.ensure_org("studio"), store.ensure_org("elsewhere")
    tokens: dict[str, str] = {role: store.create_token(org, role).secret for role in ROLES}
    tokens["other"] = store.create_token(other, "admin").secret
    app = create_app(s, store=store)
    with start_blocking_portal() as portal:
        client = AppClient(app, portal)
        try:
            yield ApiRig(store, app, client, tmp_path / "media", org, other, tokens)
        finally:
            client.close()
