"""Settings → Connect Google Drive against a fake Google (a real HTTP server on loopback), on
the real stores: the OAuth round trip with ``state`` and PKCE, every way a callback is refused,
who may make the organisation's connection, disconnect (revoked at Google), the API view and
the ``google_oauth`` health component."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from kickflow.api.app import create_app
from kickflow.config import Settings
from kickflow.errors import GoogleAccessDenied
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import ORG_OWNER
from kickflow.jobs import JobStore, Role
from kickflow.security.passwords import hash_password
from kickflow.security.secrets import SecretBox
from kickflow.web.pages.google import INTENT_COOKIE, seal, unseal
from tests.fakes.api import AppClient
from tests.fakes.google_server import FakeGoogle
from tests.fakes.web import PASSWORD, Browser, Person
from tests.fixtures_server import wait_for

EXPIRED = "This Google sign-in link has expired or was not started here"
HEALTH_TIMEOUT_S = 60.0


@dataclass
class Site:
    """The app on the test database, configured for the fake Google, and its people."""

    store: JobStore
    settings: Settings
    google: FakeGoogle
    org: str
    clients: list[AppClient]
    portal: BlockingPortal
    app: FastAPI

    def client(self) -> AppClient:
        client = AppClient(self.app, self.portal)
        self.clients.append(client)
        return client

    def person(self, email: str, role: Role) -> Person:
        user = self.store.create_user(email, hash_password(PASSWORD), email.partition("@")[0])
        self.store.set_membership(user.id, self.org, role)
        return Person(user.id, user.email, PASSWORD, self.org, role)

    def signed_in(self, person: Person) -> Browser:
        browser = Browser(self.client())
        assert browser.sign_in(person).status_code == 303
        return browser

    def api(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.store.create_token(self.org, role).secret}"}


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


def site_with(store: JobStore, settings: Settings, google: FakeGoogle) -> Iterator[Site]:
    app = create_app(settings, store=store)
    with start_blocking_portal() as portal:
        site = Site(store, settings, google, store.ensure_org("studio"), [], portal, app)
        try:
            yield site
        finally:
            for client in site.clients:
                client.close()


def fast_health(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"health_cache_seconds": 0.05, "health_probe_interval_seconds": 0.1}
    )


@pytest.fixture
def site(store: JobStore, job_settings: Settings, google: FakeGoogle) -> Iterator[Site]:
    overrides = google.settings_overrides() | {"public_url": "http://testserver"}
    settings = fast_health(job_settings.model_copy(update=overrides))
    yield from site_with(store, settings, google)


def local(url: str) -> str:
    """The path and query of a URL that points back at the app."""
    parts = urlsplit(url)
    assert parts.netloc == "testserver", url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def start(site: Site, browser: Browser, query: str = "") -> str:
    """Press Connect: the app's 302 to Google's consent page; returns that URL."""
    reply = browser.get("/settings/google/connect" + query)
    assert reply.status_code == 302, reply.text
    target = reply.headers["location"]
    assert target.startswith(site.google.url)
    return target


def connect(site: Site, browser: Browser, account: str, query: str = "") -> httpx.Response:
    """The whole round trip: Connect, Allow as ``account`` at the fake, back to the app."""
    site.google.add_user(account)
    auth_url = start(site, browser, query)
    return browser.get(local(site.google.approve_url(auth_url, account)))


def state_of(auth_url: str) -> str:
    return parse_qs(urlsplit(auth_url).query)["state"][0]


def expired_page(reply: httpx.Response) -> bool:
    return reply.status_code == 400 and EXPIRED in reply.text


# --- the round trip -----------------------------------------------------------------------------


def test_connect_stores_an_encrypted_connection_and_settings_shows_it(site: Site) -> None:
    ann = site.person("ann@studio.test", "member")
    browser = site.signed_in(ann)
    auth_url = start(site, browser)
    query = parse_qs(urlsplit(auth_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["access_type"] == ["offline"]
    assert query["scope"] == ["https://www.googleapis.com/auth/drive.readonly"]
    assert query["redirect_uri"] == ["http://testserver/settings/google/callback"]
    site.google.add_user("ann.drive@example.com")
    back = browser.get(local(site.google.approve_url(auth_url, "ann.drive@example.com")))
    assert back.status_code == 303 and back.headers["location"] == "/settings#integrations"
    assert browser.cookie(INTENT_COOKIE) is None  # used once
    page = browser.get("/settings")
    assert "Google Drive is connected as ann.drive@example.com." in page.text
    assert "Connected as <strong>ann.drive@example.com</strong>" in page.text

    connection = site.store.google_connection(site.org, ann.user_id)
    assert connection is not None and connection.email == "ann.drive@example.com"
    assert connection.status == "ok"
    secrets = site.store.google_connection_secrets(site.org, connection.id)
    assert secrets is not None
    refresh = SecretBox.from_settings(site.settings).decrypt(secrets.refresh_token)
    assert refresh and refresh not in secrets.refresh_token  # encrypted at rest

    view = browser.get("/api/google/connection")
    assert view.status_code == 200
    body = view.json()
    assert body["connected"] is True and body["level"] == "user"
    assert body["connection"]["email"] == "ann.drive@example.com"
    assert refresh not in view.text and "token" not in json.dumps(body).lower()

    again = browser.get(local(site.google.approve_url(auth_url, "ann.drive@example.com")))
    assert expired_page(again)  # the same callback a second time: the intent is gone


def test_the_api_token_sees_only_the_organisation_connection(site: Site) -> None:
    boss = site.person("boss@studio.test", "admin")
    browser = site.signed_in(boss)
    assert connect(site, browser, "boss.drive@example.com").status_code == 303
    with_token = site.client().request("GET", "/api/google/connection", headers=site.api("member"))
    assert with_token.json() == {
        "configured": True,
        "connected": False,
        "level": "organisation",
        "connection": None,
    }
    assert connect(site, browser, "studio.drive@example.com", "?scope=organisation").status_code
    page = browser.get("/settings")
    assert "connected for the organisation as studio.drive@example.com" in page.text
    with_token = site.client().request("GET", "/api/google/connection", headers=site.api("member"))
    assert with_token.json()["connection"]["email"] == "studio.drive@example.com"
    assert site.store.google_connection(site.org, ORG_OWNER) is not None


# --- refused callbacks --------------------------------------------------------------------------


def test_a_mismatched_state_is_refused(site: Site) -> None:
    ann = site.person("ann@studio.test", "member")
    browser = site.signed_in(ann)
    site.google.add_user("ann.drive@example.com")
    auth_url = start(site, browser)
    back = urlsplit(site.google.approve_url(auth_url, "ann.drive@example.com"))
    forged = parse_qs(back.query) | {"state": ["not-the-state-we-sent"]}
    reply = browser.get(back.path + "?" + urlencode(forged, doseq=True))
    assert expired_page(reply)
    assert site.store.google_connection(site.org, ann.user_id) is None


def test_no_state_cookie_an_expired_one_or_another_session_is_refused(site: Site) -> None:
    ann = site.person("ann@studio.test", "member")
    site.google.add_user("ann.drive@example.com")
    stranger = site.signed_in(ann)
    assert expired_page(stranger.get("/settings/google/callback?state=abc&code=def"))

    browser = site.signed_in(ann)
    auth_url = start(site, browser)
    callback = local(site.google.approve_url(auth_url, "ann.drive@example.com"))
    box = SecretBox.from_settings(site.settings)
    sealed = browser.cookie(INTENT_COOKIE)
    intent = unseal(box, sealed)
    assert intent is not None and intent.state == state_of(auth_url)

    # The same user, signed in in another browser: the intent belongs to the first session.
    other = site.signed_in(ann)
    other.client.http.cookies.set(INTENT_COOKIE, sealed or "")
    assert expired_page(other.get(callback))

    late = seal(box, replace(intent, expires_at=time.time() - 1))
    browser.client.http.cookies.set(INTENT_COOKIE, late)
    assert expired_page(browser.get(callback))
    browser.client.http.cookies.set(INTENT_COOKIE, "garbage" + (sealed or ""))
    assert expired_page(browser.get(callback))
    assert site.store.google_connection(site.org, ann.user_id) is None


def test_access_denied_says_so_and_connects_nothing(site: Site) -> None:
    ann = site.person("ann@studio.test", "member")
    browser = site.signed_in(ann)
    reply = browser.get(local(site.google.deny_url(start(site, browser))))
    assert reply.status_code == 303
    assert "You did not allow access to Google Drive" in browser.get("/settings").text
    assert site.store.google_connection(site.org, ann.user_id) is None


def test_only_an_admin_makes_the_organisation_connection(site: Site) -> None:
    mia = site.person("mia@studio.test", "member")
    browser = site.signed_in(mia)
    refused = browser.get("/settings/google/connect?scope=organisation")
    assert refused.status_code == 403
    assert "Only an admin may connect Google Drive for the whole organisation" in refused.text
    assert "Connect Google Drive for the organisation" not in browser.get("/settings").text
    viewer = site.signed_in(site.person("vic@studio.test", "viewer"))
    assert viewer.get("/settings/google/connect").status_code == 403
    assert site.store.google_connection(site.org, ORG_OWNER) is None


# --- disconnect ---------------------------------------------------------------------------------


def revokes(google: FakeGoogle) -> int:
    return sum(1 for r in google.requests if r.method == "POST" and r.path.endswith("/revoke"))


def test_disconnect_revokes_at_google(site: Site) -> None:
    ann = site.person("ann@studio.test", "member")
    browser = site.signed_in(ann)
    assert connect(site, browser, "ann.drive@example.com").status_code == 303
    browser.get("/settings")
    assert browser.post("/settings/google/disconnect", csrf=False).status_code == 403
    assert revokes(site.google) == 0
    reply = browser.post("/settings/google/disconnect")
    assert reply.status_code == 303
    assert revokes(site.google) == 1
    assert site.store.google_connection(site.org, ann.user_id) is None
    assert "Google Drive is disconnected" in browser.get("/settings").text


def test_the_api_delete_is_for_admins_and_revokes(site: Site) -> None:
    boss = site.person("boss@studio.test", "admin")
    browser = site.signed_in(boss)
    assert connect(site, browser, "studio.drive@example.com", "?scope=organisation")
    api = site.client()
    member = api.request("DELETE", "/api/google/connection", headers=site.api("member"))
    assert member.status_code == 403
    assert api.request("DELETE", "/api/google/connection", headers=site.api("admin")).status_code
    assert site.store.google_connection(site.org, ORG_OWNER) is None
    assert revokes(site.google) == 1
    gone = api.request("DELETE", "/api/google/connection", headers=site.api("admin"))
    assert gone.status_code == 404


# --- health -------------------------------------------------------------------------------------


def google_health(site: Site) -> dict[str, object]:
    reply = site.client().request("GET", "/api/health/full")
    assert reply.status_code == 200
    component: dict[str, object] = reply.json()["google_oauth"]
    return component


def health_becomes(site: Site, status: str) -> dict[str, object]:
    found: dict[str, object] = wait_for(
        lambda: (c := google_health(site))["status"] == status and c,
        HEALTH_TIMEOUT_S,
        f"google_oauth to be {status}",
        0.1,
    )
    return found


def test_not_configured_without_client_credentials(
    store: JobStore, job_settings: Settings, google: FakeGoogle
) -> None:
    settings = fast_health(job_settings.model_copy(update={"google_client_id": "only-an-id"}))
    for running in site_with(store, settings, google):
        component = google_health(running)
        assert component["status"] == "not_configured"
        assert "KICKFLOW_GOOGLE_CLIENT_SECRET" in str(component["message"])
        browser = running.signed_in(running.person("ann@studio.test", "member"))
        assert "an operator must set" in browser.get("/settings").text
        refused = browser.get("/settings/google/connect")
        assert refused.status_code == 400 and "Google Drive is not set up" in refused.text


def test_health_ok_then_warning_then_error(site: Site) -> None:
    ok = health_becomes(site, "ok")
    assert isinstance(ok["latency_ms"], int | float)
    ann = site.person("ann@studio.test", "member")
    assert connect(site, site.signed_in(ann), "ann.drive@example.com").status_code == 303

    site.google.revoke_grants("ann.drive@example.com")
    connection = site.store.google_connection(site.org, ann.user_id)
    assert connection is not None
    source = GoogleTokens(site.store, site.settings).access_source(site.org, connection.id)
    with pytest.raises(GoogleAccessDenied):
        source.access_token(force_refresh=True)
    warning = health_becomes(site, "warning")
    assert "1 Google Drive connection(s)" in str(warning["message"])
    assert warning["details"]["refresh_failed"] == 1  # type: ignore[index]
    anonymous = json.dumps(warning)
    assert "ann" not in anonymous and "studio" not in anonymous  # counts only

    boss = site.signed_in(site.person("boss@studio.test", "admin"))
    ops = boss.get("/ops")
    assert ops.status_code == 200
    assert "ann@studio.test" in ops.text and "ann.drive@example.com" in ops.text
    elsewhere = site.store.ensure_org("elsewhere")
    stranger = site.store.create_user("eve@elsewhere.test", hash_password(PASSWORD), "eve")
    site.store.set_membership(stranger.id, elsewhere, "admin")
    other_ops = site.signed_in(Person(stranger.id, stranger.email, PASSWORD, elsewhere, "admin"))
    assert "ann.drive@example.com" not in other_ops.get("/ops").text  # another tenant's
    assert "refresh failed: reconnect" in site.signed_in(ann).get("/settings").text

    site.google.stop()
    error = health_becomes(site, "error")
    assert "does not answer" in str(error["message"])
