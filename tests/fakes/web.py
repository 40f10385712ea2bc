"""The dashboard in-process on the fake store: browsers (clients with their own cookies) that
sign in through the real form, for page tests.

    with web_rig(tmp_path) as rig:
        ann = rig.person("ann@studio.test", "admin")
        browser = rig.browser()
        browser.sign_in(ann)
        page = browser.get("/settings")
        browser.post("/settings/tokens", {"name": "farm", "role": "member"})  # with csrf_token
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kickflow.jobs import Role
from kickflow.security.passwords import hash_password
from tests.fakes.api import ApiRig, AppClient, api_rig
from tests.fakes.store import FakeJobStore

PASSWORD = "correct horse battery"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    password: str
    org_id: str
    role: Role


@dataclass
class Browser:
    """One browser: its own cookie jar, the CSRF token of the last page it loaded."""

    client: AppClient
    csrf: str = ""

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = self.client.request(method, path, **kw)
        found = CSRF_META.search(response.text) or CSRF_FIELD.search(response.text)
        if found and response.headers.get("content-type", "").startswith("text/html"):
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kw: Any
    ) -> httpx.Response:
        """A form POST, with the page's CSRF token unless ``csrf`` is False."""
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return self.request("POST", path, data=form, **kw)

    def sign_in(self, person: Person, next: str = "/jobs") -> httpx.Response:
        """Through the real form: GET /login (the form cookie), then POST it."""
        self.get("/login")
        return self.post(
            "/login", {"email": person.email, "password": person.password, "next": next}
        )

    def cookie(self, name: str) -> str | None:
        value = self.client.http.cookies.get(name)
        return None if value is None else str(value)


@dataclass
class WebRig:
    api: ApiRig
    browsers: list[AppClient] = field(default_factory=list)

    @property
    def store(self) -> FakeJobStore:
        return self.api.store

    @property
    def org(self) -> str:
        return self.api.org

    @property
    def other(self) -> str:
        return self.api.other

    def person(
        self, email: str, role: Role, org: str | None = None, password: str = PASSWORD
    ) -> Person:
        """A user with a membership (``org``: the rig's organisation by default)."""
        org_id = org or self.org
        user = self.store.create_user(email, hash_password(password), email.partition("@")[0])
        self.store.set_membership(user.id, org_id, role)
        return Person(user.id, user.email, password, org_id, role)

    def browser(self) -> Browser:
        client = AppClient(self.api.app, self.api.client.portal)
        self.browsers.append(client)
        return Browser(client)


@contextmanager
def web_rig(tmp_path: Path, **settings: Any) -> Iterator[WebRig]:
    """A :class:`WebRig` on :func:`tests.fakes.api.api_rig` (same settings overrides)."""
    with api_rig(tmp_path, **settings) as api:
        rig = WebRig(api)
        try:
            yield rig
        finally:
            for client in rig.browsers:
                client.close()
