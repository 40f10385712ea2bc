"""Google OAuth 2.0: the consent URL, the code exchange, refresh, revoke and a health probe.

Authlib builds the pieces that must be exactly right (PKCE S256 challenge, random state and
verifier, the authorisation URL); the token calls themselves are plain httpx requests so the
error classes stay ours. Google's endpoints are operator settings, so there is no SSRF policy
here: TLS is verified and nothing user-controlled reaches a URL.
"""

from __future__ import annotations

import email.utils
import functools
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from kickflow.config import Settings
from kickflow.errors import (
    GoogleAccessDenied,
    GoogleClientRejected,
    GoogleNotConfigured,
    GoogleUnavailable,
)
from kickflow.integrations.google.types import DRIVE_SCOPE, SHEETS_SCOPE, TokenGrant

STATE_CHARS = 43  # 62-letter alphabet: ~256 bits, well over the 128 the flow needs
VERIFIER_CHARS = 64  # RFC 7636 allows 43..128
PROBE_TOKEN = "kickflow-health-probe"  # noqa: S105 - a deliberately invalid refresh token
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class AuthRequest:
    """Where to send the user, and what to keep (in the session) to finish the flow."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait when Google says "later" (429/5xx or a network error).

    Retry-After is honoured but never beyond ``ceiling``: a worker must not sleep for an hour
    on one job; the job system's own retry takes over after the last try."""

    attempts: int
    base: float
    ceiling: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Backoff:
        return cls(
            attempts=settings.google_retry_attempts,
            base=settings.google_retry_base_seconds,
            ceiling=settings.google_retry_max_seconds,
        )

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            return min(asked, self.ceiling)
        jitter = random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not a secret
        return float(min(self.base * (2**attempt) * jitter, self.ceiling))


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


RATE_LIMIT_REASONS = frozenset(
    {"userRateLimitExceeded", "rateLimitExceeded", "sharingRateLimitExceeded"}
)
MAX_GOOGLE_MESSAGE = 200  # of Google's own wording in a refusal


def google_error(response: httpx.Response) -> tuple[str, set[str]]:
    """Google's error message (on one line, cut short) and its ``error.errors[].reason``
    values; empty when the body is not a Google API error."""
    try:
        body = response.json()
    except ValueError:
        return "", set()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", set()
    items = error.get("errors")
    reasons = (
        {str(i.get("reason")) for i in items if isinstance(i, dict)}
        if isinstance(items, list)
        else set()
    )
    return " ".join(str(error.get("message") or "").split())[:MAX_GOOGLE_MESSAGE], reasons


def is_retryable(response: httpx.Response) -> bool:
    """429 and 5xx, and the 403s Google's APIs use to say "slow down": "try again later"."""
    if response.status_code in RETRY_STATUSES:
        return True
    return response.status_code == 403 and bool(google_error(response)[1] & RATE_LIMIT_REASONS)


def send_with_retry(
    send: Callable[[], httpx.Response],
    backoff: Backoff,
    retryable: Callable[[httpx.Response], bool] = is_retryable,
) -> httpx.Response:
    """Call ``send`` until Google answers something ``retryable`` does not flag, or give up
    with GoogleUnavailable. Network errors count as "later" too."""
    for attempt in range(backoff.attempts):
        last_try = attempt == backoff.attempts - 1
        try:
            response = send()
        except httpx.TransportError as exc:
            if last_try:
                raise GoogleUnavailable() from exc
            time.sleep(backoff.delay(attempt))
            continue
        if not retryable(response):
            return response
        response.close()
        if last_try:
            break
        time.sleep(backoff.delay(attempt, response.headers.get("retry-after")))
    raise GoogleUnavailable()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for every Google call: building one costs more than a
    token request on a busy machine."""
    return httpx.create_ssl_context()


def google_http(settings: Settings, transport: httpx.BaseTransport | None) -> httpx.Client:
    """An httpx client for Google's endpoints (TLS verified, the configured timeout)."""
    return httpx.Client(timeout=settings.google_timeout_seconds, transport=transport, verify=_tls())


def scopes_for(settings: Settings) -> tuple[str, ...]:
    """The least scopes the enabled features need: Drive read-only, Sheets only when on."""
    if settings.google_sheets_export:
        return (DRIVE_SCOPE, SHEETS_SCOPE)
    return (DRIVE_SCOPE,)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class OAuthClient:
    """The service's OAuth client at Google (one client id/secret for every organisation)."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.backoff = backoff or Backoff.from_settings(settings)

    @property
    def configured(self) -> bool:
        return bool(self.settings.google_client_id and self.settings.google_client_secret)

    def authorization_request(
        self, redirect_uri: str, scopes: Sequence[str], login_hint: str | None = None
    ) -> AuthRequest:
        """The consent URL: fresh state and PKCE verifier, offline access (a refresh token),
        and consent forced so a reconnect always yields a new refresh token."""
        self._require_configured()
        state = generate_token(STATE_CHARS)
        verifier = generate_token(VERIFIER_CHARS)
        extra: dict[str, str] = {
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        }
        if login_hint:
            extra["login_hint"] = login_hint
        url: str = prepare_grant_uri(
            self.settings.google_auth_url,
            self.settings.google_client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(scopes),
            state=state,
            **extra,
        )
        return AuthRequest(url=url, state=state, code_verifier=verifier)

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> TokenGrant:
        """Trade the authorisation code (and the PKCE verifier) for tokens."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": code_verifier,
            "redirect_uri": redirect_uri,
        }
        return self._grant(self._token_call(form))

    def refresh(self, refresh_token: str) -> TokenGrant:
        """A new access token; a revoked or expired grant is GoogleAccessDenied."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._grant(self._token_call(form))

    def revoke(self, token: str) -> None:
        """Revoke a grant at Google. An already revoked token (400) is the wanted outcome."""
        with self._client() as client:
            send_with_retry(
                lambda: client.post(self.settings.google_revoke_url, data={"token": token}),
                self.backoff,
            )

    def probe(self) -> float:
        """Milliseconds the token endpoint takes to refuse a made-up grant: any OAuth answer
        (invalid_grant, invalid_client) means Google is there."""
        self._require_configured()
        form = {"grant_type": "refresh_token", "refresh_token": PROBE_TOKEN, **self._client_auth()}
        started = time.perf_counter()
        try:
            with self._client() as client:
                response = client.post(self.settings.google_token_url, data=form)
        except httpx.TransportError as exc:
            raise GoogleUnavailable() from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GoogleUnavailable()
        return (time.perf_counter() - started) * 1000.0

    def _require_configured(self) -> None:
        if not self.configured:
            raise GoogleNotConfigured()

    def _client_auth(self) -> dict[str, str]:
        return {
            "client_id": self.settings.google_client_id,
            "client_secret": self.settings.google_client_secret,
        }

    def _client(self) -> httpx.Client:
        return google_http(self.settings, self.transport)

    def _token_call(self, form: Mapping[str, str]) -> dict[str, Any]:
        self._require_configured()
        data = {**form, **self._client_auth()}
        with self._client() as client:
            response = send_with_retry(
                lambda: client.post(self.settings.google_token_url, data=data), self.backoff
            )
        body = _json(response)
        if response.is_success and isinstance(body.get("access_token"), str):
            return body
        if body.get("error") == "invalid_client":
            raise GoogleClientRejected()
        if response.status_code in (400, 401):
            raise GoogleAccessDenied()
        raise GoogleUnavailable()

    def _grant(self, body: Mapping[str, Any]) -> TokenGrant:
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        scope = body.get("scope")
        fresh = body.get("refresh_token")
        return TokenGrant(
            access_token=str(body["access_token"]),
            expires_at=time.time() + lifetime,
            refresh_token=fresh if isinstance(fresh, str) and fresh else None,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        )
