"""Settings → Google Drive: connect (OAuth 2.0 with ``state`` and PKCE), the callback, and
disconnect.

What the flow must remember between the redirect to Google and the callback (the ``state``,
the PKCE verifier, who asked, for which organisation and at which level) stays on the server's
side of the trust line: it travels in an HttpOnly, SameSite=Lax cookie encrypted with the
service's :class:`~kickflow.security.secrets.SecretBox`, expires after ten minutes, is bound to
the browser's session and is used once. A callback without it, with another ``state``, after
its expiry or in another session is refused: nobody can make a victim's browser finish a
sign-in that somebody else started (login CSRF), and a leaked callback URL is worthless.

Every member connects their own Google account; only an admin may make the organisation-level
connection that API tokens use.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from kickflow.config import Settings
from kickflow.errors import (
    GoogleConnectionNotFound,
    GoogleError,
    GoogleSignInExpired,
    PermissionDenied,
    SecretUnreadable,
)
from kickflow.integrations.google.drive import DriveClient
from kickflow.integrations.google.oauth import OAuthClient, scopes_for
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import ORG_OWNER, GoogleConnection, TokenGrant
from kickflow.jobs import JobStore
from kickflow.security.secrets import SecretBox
from kickflow.web.session import Cookie, MemberPage, PageUser, clear_cookie, secure_cookies
from kickflow.web.templating import redirect, sentence

router = APIRouter(include_in_schema=False)
log = logging.getLogger("kickflow.web")

Level = Literal["user", "organisation"]
INTENT_COOKIE = "kf_google_connect"
INTENT_SECONDS = 600
INTENT_MAX = 4096  # longer cookie values are not ours: not even decrypted
CALLBACK_PATH = "/settings/google/callback"
BACK = "/settings#integrations"
DENIED = "You did not allow access to Google Drive: nothing was connected."
NOT_FINISHED = "Google did not finish the sign-in: nothing was connected. Connect again."
ORG_ONLY_ADMINS = "Only an admin may connect Google Drive for the whole organisation."


@dataclass(frozen=True)
class ConnectIntent:
    """A started connection: what the callback checks and needs (never shown to anyone)."""

    state: str
    code_verifier: str
    user_id: str
    org_id: str
    session_id: str
    level: Level
    expires_at: float

    def matches(self, user: PageUser, state: str) -> bool:
        """Whether ``state`` is this flow's and the callback runs in the session that
        started it (the ``state`` compared in constant time)."""
        same_state = hmac.compare_digest(self.state.encode(), state.encode())
        same_session = (self.session_id, self.user_id, self.org_id) == (
            user.session_id,
            user.user_id,
            user.org_id,
        )
        return same_state and same_session and time.time() < self.expires_at


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.services.settings
    return settings


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.services.store
    return store


def redirect_uri(settings: Settings) -> str:
    """The callback address registered with Google for this service."""
    return settings.resolved_public_url() + CALLBACK_PATH


def level_of(value: str | None) -> Level:
    """``?scope=organisation`` is the organisation-level connection; anything else the user's."""
    return "organisation" if value == "organisation" else "user"


def owner_of(user: PageUser, level: Level) -> str:
    """The ``user_id`` a connection is stored under (ORG_OWNER for the organisation's);
    PermissionDenied when a non-admin asks for the organisation's."""
    if level == "user":
        return user.user_id
    if not user.may("admin"):
        raise PermissionDenied(ORG_ONLY_ADMINS)
    return ORG_OWNER


# --- the intent cookie --------------------------------------------------------------------------


def seal(box: SecretBox, intent: ConnectIntent) -> str:
    return box.encrypt(json.dumps(asdict(intent)))


def unseal(box: SecretBox, value: str | None) -> ConnectIntent | None:
    """The intent in the cookie, or None when there is none, it is garbled or not ours."""
    if not value or len(value) > INTENT_MAX:
        return None
    try:
        data: Any = json.loads(box.decrypt(value))
        intent = ConnectIntent(**data)
    except (SecretUnreadable, ValueError, TypeError):
        return None
    return intent if intent.level in ("user", "organisation") else None


# --- routes -------------------------------------------------------------------------------------


@router.get("/settings/google/connect")
def connect(request: Request, user: MemberPage, scope: str | None = None) -> Response:
    """Start the consent at Google: 302 there, with the flow's intent in a cookie."""
    settings = _settings(request)
    level = level_of(scope)
    owner_of(user, level)
    oauth = OAuthClient(settings)
    hint = user.email if level == "user" else None
    auth = oauth.authorization_request(redirect_uri(settings), scopes_for(settings), hint)
    intent = ConnectIntent(
        state=auth.state,
        code_verifier=auth.code_verifier,
        user_id=user.user_id,
        org_id=user.org_id,
        session_id=user.session_id,
        level=level,
        expires_at=time.time() + INTENT_SECONDS,
    )
    response = RedirectResponse(auth.url, status_code=302)
    value = seal(SecretBox.from_settings(settings), intent)
    Cookie(INTENT_COOKIE, value, INTENT_SECONDS, secure_cookies(request)).set_on(response)
    return response


@router.get("/settings/google/callback")
def callback(
    request: Request,
    user: MemberPage,
    state: str = "",
    code: str = "",
    error: str = "",
) -> Response:
    """Finish the flow Google sent the browser back from: check the intent, then store the
    connection (or say why not)."""
    settings = _settings(request)
    intent = unseal(SecretBox.from_settings(settings), request.cookies.get(INTENT_COOKIE))
    if intent is None or not intent.matches(user, state[:200]):
        raise GoogleSignInExpired()
    response = _finish(request, settings, user, intent, code, error)
    clear_cookie(request, response, INTENT_COOKIE)  # used once, whatever the outcome
    return response


def _finish(
    request: Request,
    settings: Settings,
    user: PageUser,
    intent: ConnectIntent,
    code: str,
    error: str,
) -> Response:
    if error == "access_denied":
        return redirect(BACK, DENIED, "warn")
    if error or not code or len(code) > 2048:
        return redirect(BACK, NOT_FINISHED, "error")
    owner = owner_of(user, intent.level)  # an admin who lost the role meanwhile is refused
    try:
        grant = OAuthClient(settings).exchange_code(
            code, intent.code_verifier, redirect_uri(settings)
        )
        email = account_email(settings, grant)
        connection = GoogleTokens(_store(request), settings).connect(
            user.org_id, owner, grant, email
        )
    except GoogleError as exc:
        return redirect(BACK, sentence(exc.message), "error")
    return redirect(BACK, connected_message(connection, intent.level))


class GrantToken:
    """The fresh grant's access token, for the one Drive call that names the account."""

    def __init__(self, grant: TokenGrant) -> None:
        self.grant = grant

    def access_token(self, force_refresh: bool = False) -> str:
        return self.grant.access_token


def account_email(settings: Settings, grant: TokenGrant) -> str | None:
    """The Google account's address (Drive ``about.get``: no extra scope needed); None when
    Drive does not say (the connection still works, it is only shown without a name)."""
    try:
        return DriveClient(settings, GrantToken(grant)).account_email()
    except GoogleError as exc:
        log.warning("google account email unavailable: %s", type(exc).__name__)
        return None


def connected_message(connection: GoogleConnection, level: Level) -> str:
    who = connection.email or "your Google account"
    if level == "organisation":
        return f"Google Drive is connected for the organisation as {who}."
    return f"Google Drive is connected as {who}."


@router.post("/settings/google/disconnect")
def disconnect(request: Request, user: MemberPage, scope: str | None = None) -> Response:
    """Revoke the grant at Google (best effort) and forget the connection."""
    level = level_of(scope)
    owner = owner_of(user, level)
    store = _store(request)
    connection = store.google_connection(user.org_id, owner)
    if connection is None:
        raise GoogleConnectionNotFound()
    GoogleTokens(store, _settings(request)).disconnect(user.org_id, connection.id)
    return redirect(BACK, "Google Drive is disconnected; its access is revoked at Google.")


# --- what Settings shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class GoogleSettingsView:
    """The Google Drive entry of the Settings page."""

    configured: bool
    mine: GoogleConnection | None
    organisation: GoogleConnection | None
    may_connect: bool
    may_connect_organisation: bool


def settings_view(request: Request, user: PageUser) -> GoogleSettingsView:
    """The caller's and the organisation's connections (never their tokens)."""
    store = _store(request)
    configured = OAuthClient(_settings(request)).configured
    return GoogleSettingsView(
        configured=configured,
        mine=store.google_connection(user.org_id, user.user_id),
        organisation=store.google_connection(user.org_id, ORG_OWNER),
        may_connect=configured and user.may("member"),
        may_connect_organisation=configured and user.may("admin"),
    )
