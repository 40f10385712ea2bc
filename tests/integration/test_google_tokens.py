"""GoogleTokens on real SQLite and PostgreSQL, with the real OAuth and Drive clients talking to
the fake Google over loopback HTTP: tokens encrypted at rest, refreshed before they expire or
when forced, a refused refresh marks the connection and gives the reconnect sentence, a
reconnect restores it under the same id, a disconnect revokes at Google, keys rotate, and no
organisation or user ever gets another's token (the fake's request log says whose it was)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from kickflow.cli import admin
from kickflow.cli import errors as cli_errors
from kickflow.config import Settings, get_settings
from kickflow.errors import (
    DriveFileNotFound,
    GoogleAccessDenied,
    GoogleNoRefreshToken,
    GoogleNotConnected,
    SecretUnreadable,
)
from kickflow.integrations.google.drive import DriveClient
from kickflow.integrations.google.oauth import OAuthClient
from kickflow.integrations.google.tokens import REFRESH_MARGIN_S, GoogleTokens
from kickflow.integrations.google.types import (
    DRIVE_SCOPE,
    ORG_OWNER,
    AccessTokenSource,
    GoogleConnection,
    TokenGrant,
)
from kickflow.jobs import SqlJobStore
from kickflow.jobs.schema import google_connections
from kickflow.security.secrets import SecretBox
from tests.fakes.google_server import FakeGoogle

REDIRECT = "http://127.0.0.1:8000/settings/google/callback"
ALICE, BOB = "alice@example.com", "bob@example.com"
KEY_OLD, KEY_NEW = "first key of the service", "second key of the service"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as g:
        for email in (ALICE, BOB):
            g.add_user(email)
        yield g


@pytest.fixture
def settings(job_settings: Settings, google: FakeGoogle) -> Settings:
    return job_settings.model_copy(update={**google.settings_overrides(), "secret_key": KEY_OLD})


@pytest.fixture
def sql(settings: Settings) -> Iterator[SqlJobStore]:
    store = SqlJobStore(settings.database_url, settings)
    try:
        yield store
    finally:
        store.close()


def with_keys(settings: Settings, keys: str) -> Settings:
    return settings.model_copy(update={"secret_key": keys})


def grant_for(g: FakeGoogle, settings: Settings, email: str) -> TokenGrant:
    """The whole consent flow without a browser, as the Settings page runs it."""
    client = OAuthClient(settings)
    request = client.authorization_request(REDIRECT, (DRIVE_SCOPE,))
    back = {k: v[0] for k, v in parse_qs(urlsplit(g.approve_url(request.url, email)).query).items()}
    assert back["state"] == request.state
    return client.exchange_code(back["code"], request.code_verifier, REDIRECT)


def connect(
    g: FakeGoogle, tokens: GoogleTokens, org: str, user: str, email: str
) -> tuple[GoogleConnection, TokenGrant]:
    grant = grant_for(g, tokens.settings, email)
    return tokens.connect(org, user, grant, email), grant


def token_calls(g: FakeGoogle) -> int:
    return sum(1 for r in g.requests if r.path == "/token")


def whose(g: FakeGoogle, settings: Settings, source: AccessTokenSource) -> str | None:
    """Which Google account Drive sees behind the source's token: what Drive answers, checked
    against the fake's own record of the request."""
    before = len(g.requests)
    answered = DriveClient(settings, source).account_email()
    *_, about = [r for r in g.requests[before:] if r.path.endswith("/about")]
    assert about.email == answered and about.status == 200
    return answered


def row_of(sql: SqlJobStore, connection_id: str) -> dict[str, object]:
    with sql.engine.connect() as conn:
        stmt = sa.select(google_connections).where(google_connections.c.id == connection_id)
        return dict(conn.execute(stmt).mappings().one())


# --- connect, encryption at rest ----------------------------------------------------------------


def test_tokens_are_encrypted_at_rest_and_a_fresh_one_is_used_without_asking_google(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    connection, grant = connect(google, tokens, org, "user-1", ALICE)
    assert grant.refresh_token is not None
    assert (connection.email, connection.status, connection.scopes) == (ALICE, "ok", (DRIVE_SCOPE,))

    row = row_of(sql, connection.id)
    stored = " ".join(str(value) for value in row.values())
    assert grant.refresh_token not in stored and grant.access_token not in stored
    assert grant.refresh_token.removeprefix("1//") not in stored
    box = SecretBox([KEY_OLD])
    assert box.decrypt(str(row["refresh_token_enc"])) == grant.refresh_token
    assert box.decrypt(str(row["access_token_enc"])) == grant.access_token
    with pytest.raises(SecretUnreadable):
        SecretBox([KEY_NEW]).decrypt(str(row["refresh_token_enc"]))

    calls = token_calls(google)
    source = tokens.access_source(org, connection.id)
    assert source.access_token() == grant.access_token
    assert whose(google, settings, source) == ALICE
    assert token_calls(google) == calls, "an hour left: no refresh"


def test_a_token_about_to_expire_is_refreshed_and_stored_encrypted(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    connection, grant = connect(google, GoogleTokens(sql, settings), org, "user-1", ALICE)
    assert connection.access_expires_at is not None
    lifetime = connection.access_expires_at - time.time()
    later = GoogleTokens(sql, settings, clock=lambda: time.time() + lifetime - REFRESH_MARGIN_S + 5)

    calls = token_calls(google)
    fresh = later.access_source(org, connection.id).access_token()
    assert fresh != grant.access_token
    assert token_calls(google) == calls + 1
    row = row_of(sql, connection.id)
    assert fresh not in " ".join(str(v) for v in row.values())
    assert SecretBox([KEY_OLD]).decrypt(str(row["access_token_enc"])) == fresh
    assert float(str(row["access_expires_at"])) > connection.access_expires_at
    again = GoogleTokens(sql, settings).access_source(org, connection.id)
    assert again.access_token() == fresh, "the refreshed token is the stored one now"
    assert token_calls(google) == calls + 1


def test_a_forced_refresh_replaces_a_token_google_stopped_accepting(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    connection, grant = connect(google, tokens, org, "user-1", ALICE)
    source = tokens.access_source(org, connection.id)
    google.expire_access_tokens()
    assert source.access_token() == grant.access_token, "still valid as far as we know"
    before = len(google.requests)
    assert whose(google, settings, source) == ALICE, "the Drive client forced a refresh on 401"
    abouts = [r.status for r in google.requests[before:] if r.path.endswith("/about")]
    assert abouts == [401, 200]
    forced = source.access_token(force_refresh=True)
    assert forced != grant.access_token
    assert source.access_token() == forced, "kept in memory until it nears its expiry"


def test_a_refused_refresh_marks_the_connection_and_a_reconnect_restores_it(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    connection, _ = connect(google, tokens, org, "user-1", ALICE)
    google.revoke_grants(ALICE)

    source = tokens.access_source(org, connection.id)
    with pytest.raises(GoogleAccessDenied) as denied:
        source.access_token(force_refresh=True)
    assert str(denied.value) == "Google Drive access denied — reconnect Google Drive in Settings."
    assert denied.value.permanent
    failed = sql.google_connection_by_id(org, connection.id)
    assert failed is not None and failed.status == "refresh_failed"
    assert failed.last_error is not None and "invalid_grant" in failed.last_error
    assert [c.id for c in sql.google_connection_problems()] == [connection.id]
    calls = token_calls(google)
    with pytest.raises(GoogleAccessDenied):
        GoogleTokens(sql, settings).access_source(org, connection.id).access_token()
    assert token_calls(google) == calls, "a failed connection does not ask Google again"

    again, grant = connect(google, tokens, org, "user-1", ALICE)
    assert again.id == connection.id and again.status == "ok" and again.last_error is None
    assert sql.google_connection_problems() == []
    source = tokens.access_source(org, connection.id)
    assert source.access_token(force_refresh=True) != grant.access_token
    assert whose(google, settings, source) == ALICE


class ReconnectDuringRefresh(OAuthClient):
    """The real client, with one reconnect by the user landing while the first refresh is
    on its way (the interleaving two processes can produce)."""

    def __init__(self, settings: Settings, reconnect: Callable[[], object]) -> None:
        super().__init__(settings)
        self.reconnect: Callable[[], object] | None = reconnect

    def refresh(self, refresh_token: str) -> TokenGrant:
        reconnect, self.reconnect = self.reconnect, None
        if reconnect is not None:
            reconnect()
        return super().refresh(refresh_token)


def test_a_refusal_of_the_old_grant_does_not_fail_a_reconnect_made_meanwhile(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    plain = GoogleTokens(sql, settings)
    connection, _ = connect(google, plain, org, "user-1", ALICE)
    google.revoke_grants(ALICE)
    racing = ReconnectDuringRefresh(settings, lambda: connect(google, plain, org, "user-1", ALICE))
    source = GoogleTokens(sql, settings, oauth=racing).access_source(org, connection.id)
    assert source.access_token(force_refresh=True)
    assert whose(google, settings, source) == ALICE
    after = sql.google_connection_by_id(org, connection.id)
    assert after is not None and after.status == "ok"


def test_a_reconnect_without_a_refresh_token_keeps_the_stored_one(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    bare = TokenGrant("ya29.unused", time.time() + 3600, None, (DRIVE_SCOPE,))
    with pytest.raises(GoogleNoRefreshToken):
        tokens.connect(org, "user-1", bare, ALICE)
    assert sql.list_google_connections(org) == []

    connection, first = connect(google, tokens, org, "user-1", ALICE)
    second = grant_for(google, settings, ALICE)
    again = tokens.connect(
        org, "user-1", TokenGrant(second.access_token, second.expires_at, None, ()), ALICE
    )
    assert again.id == connection.id
    secrets = sql.google_connection_secrets(org, connection.id)
    assert secrets is not None
    assert SecretBox([KEY_OLD]).decrypt(secrets.refresh_token) == first.refresh_token
    assert tokens.access_source(org, connection.id).access_token(force_refresh=True)


# --- disconnect ---------------------------------------------------------------------------------


def test_disconnect_revokes_the_grant_at_google_and_forgets_the_connection(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    connection, grant = connect(google, tokens, org, "user-1", ALICE)
    assert grant.refresh_token is not None

    assert tokens.disconnect(org, connection.id) is True
    [revoke] = [r for r in google.requests if r.path == "/revoke"]
    assert revoke.status == 200
    with pytest.raises(GoogleAccessDenied):
        OAuthClient(settings).refresh(grant.refresh_token)
    assert tokens.connection_for(org, "user-1") is None
    with pytest.raises(GoogleNotConnected):
        tokens.access_source(org, connection.id)
    assert tokens.disconnect(org, connection.id) is False


def test_disconnect_still_forgets_the_connection_when_google_is_down(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    connection, _ = connect(google, tokens, org, "user-1", ALICE)
    google.fail("^/revoke", 503, times=settings.google_retry_attempts)
    assert tokens.disconnect(org, connection.id) is True
    assert sql.list_google_connections(org) == []


def test_disconnect_does_not_revoke_an_account_another_connection_still_uses(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    personal, _ = connect(google, tokens, org, "user-1", ALICE)
    org_level, _ = connect(google, tokens, org, ORG_OWNER, ALICE)
    assert tokens.disconnect(org, personal.id) is True
    assert not [r for r in google.requests if r.path == "/revoke"]
    source = tokens.access_source(org, org_level.id)
    assert source.access_token(force_refresh=True)
    assert whose(google, settings, source) == ALICE
    assert tokens.disconnect(org, org_level.id) is True
    assert [r.status for r in google.requests if r.path == "/revoke"] == [200]


# --- key rotation -------------------------------------------------------------------------------


def test_keys_rotate_without_losing_a_connection(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org, other = sql.ensure_org(), sql.ensure_org("other")
    old = GoogleTokens(sql, settings)
    alice, _ = connect(google, old, org, "user-1", ALICE)
    bob, _ = connect(google, old, other, "user-2", BOB)

    both = GoogleTokens(sql, with_keys(settings, f"{KEY_NEW},{KEY_OLD}"))
    assert both.access_source(org, alice.id).access_token(), "the old key still decrypts"
    assert both.rotation().rotated == 2
    new_box = SecretBox([KEY_NEW])
    for connection in (alice, bob):
        row = row_of(sql, connection.id)
        for column in ("refresh_token_enc", "access_token_enc"):
            assert new_box.is_current(str(row[column])), column
            with pytest.raises(SecretUnreadable):
                SecretBox([KEY_OLD]).decrypt(str(row[column]))
    assert both.rotation().current == 2 and both.rotate() == 0

    only_new = with_keys(settings, KEY_NEW)
    after = GoogleTokens(sql, only_new)
    for connection, email in ((alice, ALICE), (bob, BOB)):
        source = after.access_source(connection.org_id, connection.id)
        assert source.access_token(force_refresh=True), "the refresh token decrypts too"
        assert whose(google, only_new, source) == email


def test_rotation_counts_what_no_key_can_read_and_rotate_refuses(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    org = sql.ensure_org()
    connect(google, GoogleTokens(sql, settings), org, "user-1", ALICE)
    stranger = GoogleTokens(sql, with_keys(settings, KEY_NEW))
    result = stranger.rotation()
    assert (result.rotated, result.current, result.unreadable) == (0, 0, 1)
    with pytest.raises(SecretUnreadable, match="KICKFLOW_SECRET_KEY"):
        stranger.rotate()


# --- the tenant matrix --------------------------------------------------------------------------

ACCOUNTS = {
    ("A", "user-1"): "a1@example.com",
    ("A", "user-2"): "a2@example.com",
    ("B", "user-1"): "b1@example.com",  # the same person in both organisations, other account
    ("B", "user-3"): "b3@example.com",
    ("A", ORG_OWNER): "ops-a@example.com",
}


def test_every_organisation_and_user_gets_only_its_own_google_account(
    google: FakeGoogle, settings: Settings, sql: SqlJobStore
) -> None:
    orgs = {"A": sql.ensure_org("A"), "B": sql.ensure_org("B")}
    tokens = GoogleTokens(sql, settings)
    files: dict[str, str] = {}
    made: dict[tuple[str, str], GoogleConnection] = {}
    for (org, user), email in ACCOUNTS.items():
        google.add_user(email)
        files[email] = google.add_file(email, f"{email}.mp4", b"\0" * 64)
        made[(org, user)], _ = connect(google, tokens, orgs[org], user, email)

    for (org, user), email in ACCOUNTS.items():
        connection = tokens.connection_for(orgs[org], user)
        assert connection is not None and connection.id == made[(org, user)].id
        assert connection.email == email
        source = tokens.access_source(orgs[org], connection.id)
        for force in (False, True):
            source.access_token(force_refresh=force)
            assert whose(google, settings, source) == email
        drive = DriveClient(settings, source)
        assert drive.file(files[email]).name == f"{email}.mp4"
        for stranger in set(ACCOUNTS.values()) - {email}:
            with pytest.raises(DriveFileNotFound):
                drive.file(files[stranger])

    assert tokens.connection_for(orgs["B"], ORG_OWNER) is None, "no org-level one: no fallback"
    assert tokens.connection_for(orgs["A"], "user-3") is None, "user-3's is in B only"
    assert tokens.connection_for(orgs["A"], "user-9") is None
    for (org, _user), connection in made.items():
        elsewhere = orgs["B" if org == "A" else "A"]
        with pytest.raises(GoogleNotConnected):
            tokens.access_source(elsewhere, connection.id)
        with pytest.raises(GoogleNotConnected):
            tokens.valid_access(elsewhere, connection.id, force=True)
        assert tokens.disconnect(elsewhere, connection.id) is False
    assert not [r for r in google.requests if r.path == "/revoke"]
    assert len(sql.list_google_connections(orgs["A"])) == 3
    assert len(sql.list_google_connections(orgs["B"])) == 2


# --- kickflow admin rotate-secrets --------------------------------------------------------------


@dataclass
class Ran:
    code: int
    out: str
    err: str


def run_admin(
    settings: Settings,
    keys: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> Ran:
    for key in [k for k in os.environ if k.startswith("KICKFLOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KICKFLOW_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("KICKFLOW_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KICKFLOW_SECRET_KEY", keys)
    get_settings.cache_clear()
    app = typer.Typer(pretty_exceptions_enable=False)
    admin.register(app)
    code, out, err = 0, "", ""
    try:
        with cli_errors.handled(verbose=False):
            result = CliRunner().invoke(app, ["admin", *args], catch_exceptions=False)
            code, out, err = result.exit_code, result.stdout, result.stderr
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        get_settings.cache_clear()
    return Ran(code, out, err + capsys.readouterr().err)


def test_admin_rotate_secrets_prints_counts_and_never_a_secret(
    google: FakeGoogle,
    settings: Settings,
    sql: SqlJobStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    connection, grant = connect(google, tokens, org, "user-1", ALICE)
    connect(google, tokens, org, ORG_OWNER, BOB)
    signing = "whsec_signing-secret-of-the-test"
    hook = sql.create_webhook_endpoint(
        org,
        "https://hooks.example.com/kf",
        ["job.completed"],
        SecretBox([KEY_OLD]).encrypt(signing),
    )
    before = row_of(sql, connection.id)

    ran = run_admin(settings, f"{KEY_NEW},{KEY_OLD}", monkeypatch, capsys, "rotate-secrets")
    assert ran.code == 0, ran
    assert ran.out.splitlines() == [
        "Google connections: 2 re-encrypted, 0 already current, 0 unreadable",
        "Webhook secrets: 1 re-encrypted",
    ]
    assert SecretBox([KEY_NEW]).decrypt(sql.webhook_secret(org, hook.id)) == signing
    after = row_of(sql, connection.id)
    printed = ran.out + ran.err
    for secret in (
        grant.access_token,
        str(grant.refresh_token),
        KEY_NEW,
        KEY_OLD,
        str(before["refresh_token_enc"]),
        str(after["refresh_token_enc"]),
        signing,
    ):
        assert secret not in printed
    assert SecretBox([KEY_NEW]).is_current(str(after["refresh_token_enc"]))

    again = run_admin(settings, KEY_NEW, monkeypatch, capsys, "rotate-secrets")
    assert (again.code, again.out.splitlines()) == (
        0,
        [
            "Google connections: 0 re-encrypted, 2 already current, 0 unreadable",
            "Webhook secrets: 0 re-encrypted",
        ],
    )

    lost = run_admin(settings, "a key nobody used", monkeypatch, capsys, "rotate-secrets")
    assert lost.code == 2
    assert lost.err.strip() == (
        "kickflow: 2 Google connection(s) and a webhook signing secret cannot be decrypted "
        "with any key in "
        "KICKFLOW_SECRET_KEY: put the key they were written with back in the list"
    )
    assert "Traceback" not in lost.err and "a key nobody used" not in lost.out + lost.err
