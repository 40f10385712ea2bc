"""The sign-in pages on the real stores (SQLite and PostgreSQL): sessions, limits, CSRF,
invitations and tokens go through SQL as they do in production."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from anyio.from_thread import start_blocking_portal

from kickflow.api.app import create_app
from kickflow.config import Settings
from kickflow.jobs import JobStore
from kickflow.security.passwords import hash_password
from kickflow.web.session import SESSION_COOKIE
from tests.fakes.api import AppClient
from tests.fakes.web import PASSWORD, Browser

TOKEN = re.compile(r'id="new-token">(kf_[^<]+)<')


@dataclass
class Site:
    store: JobStore
    org: str
    other: str
    clients: list[AppClient]
    new_client: Callable[[], AppClient]

    def browser(self) -> Browser:
        client = self.new_client()
        self.clients.append(client)
        return Browser(client)

    def admin(self, email: str, org: str) -> str:
        user = self.store.create_user(email, hash_password(PASSWORD), None)
        self.store.set_membership(user.id, org, "admin")
        return user.id


@pytest.fixture
def site(store: JobStore, job_settings: Settings) -> Iterator[Site]:
    app = create_app(job_settings, store=store)
    org, other = store.ensure_org("studio"), store.ensure_org("elsewhere")
    with start_blocking_portal() as portal:
        site = Site(store, org, other, [], lambda: AppClient(app, portal))
        try:
            yield site
        finally:
            for client in site.clients:
                client.close()


def sign_in(site: Site, email: str, password: str = PASSWORD) -> tuple[Browser, int]:
    browser = site.browser()
    browser.get("/login")
    return browser, browser.post("/login", {"email": email, "password": password}).status_code


def test_sign_in_wrong_password_limit_and_sign_out(site: Site) -> None:
    site.admin("ann@studio.test", site.org)
    browser, status = sign_in(site, "ann@studio.test", "wrong password")
    assert status == 401
    for _ in range(4):
        assert (
            browser.post("/login", {"email": "ann@studio.test", "password": "x"}).status_code == 401
        )
    good = {"email": "ann@studio.test", "password": PASSWORD}
    assert browser.post("/login", good).status_code == 429
    site.store.clear_sign_in_failures("account:ann@studio.test")
    assert browser.post("/login", good).status_code == 303
    secret = browser.cookie(SESSION_COOKIE)
    assert browser.get("/settings").status_code == 200
    assert browser.post("/logout").status_code == 303
    assert secret and site.store.session_by_secret(secret, 3600) is None


def test_the_api_with_the_session_cookie_needs_the_csrf_header(site: Site) -> None:
    site.admin("ann@studio.test", site.org)
    browser, _ = sign_in(site, "ann@studio.test")
    browser.get("/settings")
    assert browser.get("/api/qc/jobs").status_code == 200
    body = {"action": "trigger_worker"}
    assert browser.request("POST", "/api/qc/debug", json=body).status_code == 403
    sent = browser.request(
        "POST", "/api/qc/debug", json=body, headers={"X-CSRF-Token": browser.csrf}
    )
    assert sent.status_code == 200


def test_invitation_once_then_gone(site: Site) -> None:
    ann = site.admin("ann@studio.test", site.org)
    issued = site.store.create_invitation(site.org, "nia@studio.test", "member", ann, 3600)
    browser = site.browser()
    assert browser.get(f"/invite/{issued.secret}").status_code == 200
    fields = {"email": "nia@studio.test", "password": "long enough 1", "confirm": "long enough 1"}
    assert browser.post(f"/invite/{issued.secret}", fields).status_code == 303
    assert browser.get("/settings").status_code == 200
    assert site.browser().get(f"/invite/{issued.secret}").status_code == 410


def test_tokens_are_shown_once_revocable_and_scoped(site: Site) -> None:
    site.admin("ann@studio.test", site.org)
    site.admin("olga@elsewhere.test", site.other)
    ann, _ = sign_in(site, "ann@studio.test")
    ann.get("/settings")
    answer = ann.post("/settings/tokens", {"name": "studio-bot-7", "role": "viewer"})
    made = TOKEN.search(answer.text)
    assert made is not None and site.store.authenticate(made.group(1)) is not None
    token_id = next(t.id for t in site.store.list_tokens(site.org) if t.name == "studio-bot-7")
    olga, _ = sign_in(site, "olga@elsewhere.test")
    page = olga.get("/settings").text
    assert "studio-bot-7" not in page and "ann@studio.test" not in page
    assert olga.post(f"/settings/tokens/{token_id}/revoke").status_code == 404
    assert site.store.authenticate(made.group(1)) is not None
    assert ann.post(f"/settings/tokens/{token_id}/revoke").status_code == 303
    assert site.store.authenticate(made.group(1)) is None
