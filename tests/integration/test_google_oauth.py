"""The OAuth client against the fake Google over real HTTP: the consent URL carries what
Google needs (state, PKCE S256, offline access, the scopes), the code is exchanged with the
verifier, refresh and revoke work, and failures land in the right error class."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kickflow.config import Settings
from kickflow.errors import (
    GoogleAccessDenied,
    GoogleClientRejected,
    GoogleNotConfigured,
    GoogleUnavailable,
)
from kickflow.integrations.google.oauth import (
    Backoff,
    OAuthClient,
    retry_after_seconds,
    scopes_for,
)
from kickflow.integrations.google.types import DRIVE_SCOPE, SHEETS_SCOPE
from tests.fakes.google_server import FakeGoogle, s256

REDIRECT = "http://127.0.0.1:8000/settings/google/callback"
ALICE = "alice@example.com"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as g:
        g.add_user(ALICE)
        yield g


def settings_for(g: FakeGoogle, tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path, **{**g.settings_overrides(), **extra})


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def connect(g: FakeGoogle, client: OAuthClient, email: str = ALICE) -> tuple[str, str]:
    """The whole flow without a browser; (access token, refresh token)."""
    request = client.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    back = query_of(g.approve_url(request.url, email))
    assert back["state"] == request.state
    grant = client.exchange_code(back["code"], request.code_verifier, REDIRECT)
    assert grant.refresh_token is not None
    return grant.access_token, grant.refresh_token


def test_the_authorisation_url_carries_state_pkce_offline_access_and_scopes(
    google: FakeGoogle, tmp_path: Path
) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    request = client.authorization_request(REDIRECT, (DRIVE_SCOPE, SHEETS_SCOPE), ALICE)
    assert request.url.startswith(google.url + "/o/oauth2/v2/auth?")
    query = query_of(request.url)
    assert query["client_id"] == "fake-client-id"
    assert query["redirect_uri"] == REDIRECT
    assert query["response_type"] == "code"
    assert query["state"] == request.state and len(request.state) >= 22  # >= 128 bits
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == s256(request.code_verifier)
    assert 43 <= len(request.code_verifier) <= 128
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["include_granted_scopes"] == "true"
    assert query["scope"].split() == [DRIVE_SCOPE, SHEETS_SCOPE]
    assert query["login_hint"] == ALICE
    assert "client_secret" not in request.url and "fake-client-secret" not in request.url
    again = client.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    assert again.state != request.state and again.code_verifier != request.code_verifier


def test_the_consent_page_accepts_the_url_and_deny_comes_back_with_the_state(
    google: FakeGoogle, tmp_path: Path
) -> None:
    import httpx

    request = OAuthClient(settings_for(google, tmp_path)).authorization_request(
        REDIRECT, (DRIVE_SCOPE,)
    )
    page = httpx.get(request.url)
    assert page.status_code == 200
    assert 'id="allow"' in page.text and 'id="deny"' in page.text and ALICE in page.text
    form = {"request": page.text.split('name="request" value="')[1].split('"')[0]}
    form["request"] = form["request"].replace("&amp;", "&")
    denied = httpx.post(google.url + "/o/oauth2/v2/consent", data={**form, "decision": "deny"})
    assert denied.status_code == 302
    assert query_of(denied.headers["location"]) == {
        "error": "access_denied",
        "state": request.state,
    }
    allowed = httpx.post(
        google.url + "/o/oauth2/v2/consent",
        data={**form, "decision": "allow", "email": ALICE},
    )
    assert allowed.headers["location"].startswith(REDIRECT + "?code=")
    assert query_of(allowed.headers["location"])["state"] == request.state


def test_the_code_is_exchanged_with_the_verifier_once(google: FakeGoogle, tmp_path: Path) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    request = client.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    code = query_of(google.approve_url(request.url, ALICE))["code"]
    before = time.time()
    grant = client.exchange_code(code, request.code_verifier, REDIRECT)
    assert grant.access_token.startswith("ya29.") and grant.refresh_token
    assert grant.scopes == (DRIVE_SCOPE,)
    assert before + 3500 < grant.expires_at < time.time() + 3601
    token_calls = [r for r in google.requests if r.path == "/token"]
    assert len(token_calls) == 1 and token_calls[0].body_size > 0
    with pytest.raises(GoogleAccessDenied):  # a code is good once
        client.exchange_code(code, request.code_verifier, REDIRECT)


def test_a_wrong_verifier_is_refused(google: FakeGoogle, tmp_path: Path) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    request = client.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    code = query_of(google.approve_url(request.url, ALICE))["code"]
    other = client.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    with pytest.raises(GoogleAccessDenied):
        client.exchange_code(code, other.code_verifier, REDIRECT)


def test_refresh_gives_a_new_access_token_without_a_refresh_token(
    google: FakeGoogle, tmp_path: Path
) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    access, refresh = connect(google, client)
    fresh = client.refresh(refresh)
    assert fresh.access_token != access and fresh.refresh_token is None
    assert fresh.scopes == (DRIVE_SCOPE,)


def test_a_revoked_grant_is_access_denied_with_the_reconnect_sentence(
    google: FakeGoogle, tmp_path: Path
) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    _, refresh = connect(google, client)
    google.revoke_grants(ALICE)
    with pytest.raises(GoogleAccessDenied) as caught:
        client.refresh(refresh)
    assert caught.value.message == (
        "Google Drive access denied — reconnect Google Drive in Settings."
    )
    assert refresh not in caught.value.message
    with pytest.raises(GoogleAccessDenied):
        client.refresh("1//never-issued")


@pytest.mark.parametrize("status", [500, 503, 429])
def test_busy_google_is_retried_honouring_retry_after(
    google: FakeGoogle, tmp_path: Path, status: int
) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    _, refresh = connect(google, client)
    google.fail("^/token", status, times=2, retry_after="1")
    started = time.monotonic()
    assert client.refresh(refresh).access_token
    assert time.monotonic() - started < 5  # Retry-After capped by the (tiny) ceiling
    statuses = [r.status for r in google.requests if r.path == "/token"]
    assert statuses[-3:] == [status, status, 200]


def test_google_down_for_every_try_is_unavailable_and_transient(
    google: FakeGoogle, tmp_path: Path
) -> None:
    client = OAuthClient(settings_for(google, tmp_path, google_retry_attempts=3))
    _, refresh = connect(google, client)
    google.fail("^/token", 503, times=10, retry_after="120")
    with pytest.raises(GoogleUnavailable) as caught:
        client.refresh(refresh)
    assert caught.value.permanent is False
    assert [r.status for r in google.requests if r.path == "/token"][-3:] == [503] * 3
    assert google.faults[0].times == 7  # exactly the configured number of tries


def test_an_unreachable_google_is_unavailable(tmp_path: Path) -> None:
    with FakeGoogle() as g:
        settings = settings_for(g, tmp_path)
    client = OAuthClient(settings)  # the server is gone: connection refused
    with pytest.raises(GoogleUnavailable):
        client.refresh("1//anything")
    with pytest.raises(GoogleUnavailable):
        client.probe()


def test_a_wrong_client_secret_is_an_operator_problem(google: FakeGoogle, tmp_path: Path) -> None:
    client = OAuthClient(settings_for(google, tmp_path, google_client_secret="wrong"))
    with pytest.raises(GoogleClientRejected) as caught:
        client.refresh("1//anything")
    assert "KICKFLOW_GOOGLE_CLIENT_SECRET" in caught.value.message


def test_revoke_ends_the_grant_and_a_second_revoke_is_fine(
    google: FakeGoogle, tmp_path: Path
) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    _, refresh = connect(google, client)
    client.revoke(refresh)
    with pytest.raises(GoogleAccessDenied):
        client.refresh(refresh)
    client.revoke(refresh)  # already revoked: 400 at Google, nothing to do here
    assert [r.status for r in google.requests if r.path == "/revoke"] == [200, 400]


def test_revoke_when_google_is_down_is_unavailable(google: FakeGoogle, tmp_path: Path) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    google.fail("^/revoke", 500, times=10)
    with pytest.raises(GoogleUnavailable):
        client.revoke("1//anything")


def test_probe_measures_the_token_endpoint(google: FakeGoogle, tmp_path: Path) -> None:
    client = OAuthClient(settings_for(google, tmp_path))
    latency = client.probe()
    assert 0 < latency < 10_000
    assert google.requests[-1].path == "/token" and google.requests[-1].status == 400
    google.fail("^/token", 502)
    with pytest.raises(GoogleUnavailable):
        client.probe()


def test_without_client_credentials_nothing_is_sent(google: FakeGoogle, tmp_path: Path) -> None:
    client = OAuthClient(settings_for(google, tmp_path, google_client_secret=""))
    assert not client.configured
    with pytest.raises(GoogleNotConfigured):
        client.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    with pytest.raises(GoogleNotConfigured):
        client.refresh("1//anything")
    with pytest.raises(GoogleNotConfigured):
        client.probe()
    assert google.requests == []


def test_scopes_are_the_least_the_features_need(tmp_path: Path) -> None:
    assert scopes_for(Settings(data_dir=tmp_path)) == (DRIVE_SCOPE,)
    with_sheets = Settings(data_dir=tmp_path, google_sheets_export=True)
    assert scopes_for(with_sheets) == (DRIVE_SCOPE, SHEETS_SCOPE)


def test_retry_after_is_honoured_in_both_forms_but_capped(tmp_path: Path) -> None:
    backoff = Backoff(attempts=3, base=0.5, ceiling=10.0)
    assert backoff.delay(0, "3") == 3.0
    assert backoff.delay(0, "3600") == 10.0
    soon = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3.0 < backoff.delay(0, soon) <= 5.0
    assert backoff.delay(0, "Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert 0.25 <= backoff.delay(0, "soon-ish") <= 0.5  # garbled: exponential instead
    assert 1.0 <= backoff.delay(2) <= 2.0
    assert backoff.delay(10) == 10.0
    assert retry_after_seconds(None) is None
