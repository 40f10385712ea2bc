"""GoogleTokens: the one place Google OAuth tokens are encrypted, decrypted and refreshed.

The store holds only SecretBox tokens (:class:`~kickflow.integrations.google.types.
ConnectionSecrets`); plaintext exists in memory for the call that needs it and never in a log
line. Every lookup names the organisation, so a connection id from elsewhere is "not connected".

A refresh that Google refuses (``invalid_grant``: revoked, expired, password changed) marks the
connection ``refresh_failed``; from then on it answers GoogleAccessDenied without asking Google
again, until the user reconnects (which keeps the connection id, so jobs referring to it can be
retried). Google being unreachable is transient and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from kickflow.config import Settings
from kickflow.errors import (
    GoogleAccessDenied,
    GoogleError,
    GoogleNoRefreshToken,
    GoogleNotConnected,
    SecretUnreadable,
)
from kickflow.integrations.google.oauth import OAuthClient
from kickflow.integrations.google.types import ConnectionSecrets, GoogleConnection, TokenGrant
from kickflow.jobs.port import GoogleConnectionsPort
from kickflow.security.secrets import SecretBox

log = logging.getLogger("kickflow.google")

REFRESH_MARGIN_S = 300.0  # refresh when less is left: a download must not start on a dying token
REFUSED = "Google refused to refresh the access (invalid_grant): the grant was revoked or expired"


@dataclass(frozen=True)
class SecretRotation:
    """What :meth:`GoogleTokens.rotation` did: connections re-encrypted with the first key,
    already current, and unreadable with every configured key (those need their old key)."""

    rotated: int
    current: int
    unreadable: int


class ConnectionAccess:
    """The access tokens of one connection (an :class:`AccessTokenSource`). Keeps the last
    token in memory so a download asking before every request reads the store only once."""

    def __init__(self, tokens: GoogleTokens, org_id: str, connection_id: str) -> None:
        self._tokens = tokens
        self.org_id = org_id
        self.connection_id = connection_id
        self._cached: tuple[str, float] | None = None

    def access_token(self, force_refresh: bool = False) -> str:
        now = self._tokens.clock()
        if not force_refresh and self._cached and self._cached[1] - now > REFRESH_MARGIN_S:
            return self._cached[0]
        token, expires_at = self._tokens.valid_access(
            self.org_id, self.connection_id, force_refresh
        )
        self._cached = (token, expires_at)
        return token


class GoogleTokens:
    """Connect, use, disconnect and re-encrypt Google connections of one store."""

    def __init__(
        self,
        store: GoogleConnectionsPort,
        settings: Settings,
        oauth: OAuthClient | None = None,
        box: SecretBox | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.oauth = oauth or OAuthClient(settings)
        self.box = box or SecretBox.from_settings(settings)
        self.clock = clock

    # --- connect ------------------------------------------------------------------------------

    def connect(
        self, org_id: str, user_id: str, grant: TokenGrant, email: str | None
    ) -> GoogleConnection:
        """Store a fresh grant for (organisation, user): a reconnect keeps the connection's id
        and, when Google sent no new refresh token, the stored one. GoogleNoRefreshToken when
        there is none at all (Google skipped offline access)."""
        refresh = self._refresh_for(org_id, user_id, grant)
        secrets = ConnectionSecrets(refresh, self.box.encrypt(grant.access_token))
        return self.store.save_google_connection(
            org_id,
            user_id,
            email=email.strip() if email else None,
            scopes=grant.scopes,
            secrets=secrets,
            access_expires_at=grant.expires_at,
        )

    def _refresh_for(self, org_id: str, user_id: str, grant: TokenGrant) -> str:
        """The encrypted refresh token to keep: the grant's, else the stored one."""
        if grant.refresh_token:
            return self.box.encrypt(grant.refresh_token)
        existing = self.store.google_connection(org_id, user_id)
        stored = existing and self.store.google_connection_secrets(org_id, existing.id)
        if not stored:
            raise GoogleNoRefreshToken()
        return stored.refresh_token

    def connection_for(self, org_id: str, user_id: str) -> GoogleConnection | None:
        """Exactly that user's connection in that organisation (``ORG_OWNER``: the
        organisation's); never a fallback to anyone else's."""
        return self.store.google_connection(org_id, user_id)

    # --- use ----------------------------------------------------------------------------------

    def access_source(self, org_id: str, connection_id: str) -> ConnectionAccess:
        """Access tokens of the organisation's connection ``connection_id``;
        GoogleNotConnected when it has none by that id."""
        if self.store.google_connection_by_id(org_id, connection_id) is None:
            raise GoogleNotConnected()
        return ConnectionAccess(self, org_id, connection_id)

    def valid_access(self, org_id: str, connection_id: str, force: bool) -> tuple[str, float]:
        """A plaintext access token with at least REFRESH_MARGIN_S left (refreshed when not,
        or when ``force``) and its expiry."""
        connection = self.store.google_connection_by_id(org_id, connection_id)
        secrets = self.store.google_connection_secrets(org_id, connection_id)
        if connection is None or secrets is None:
            raise GoogleNotConnected()
        if connection.status != "ok":
            raise GoogleAccessDenied()
        expires = connection.access_expires_at
        fresh = expires is not None and expires - self.clock() > REFRESH_MARGIN_S
        if fresh and not force and secrets.access_token:
            return self.box.decrypt(secrets.access_token), float(expires or 0.0)
        return self._refresh(connection, secrets)

    def _refresh(
        self, connection: GoogleConnection, secrets: ConnectionSecrets
    ) -> tuple[str, float]:
        org_id, connection_id = connection.org_id, connection.id
        try:
            grant = self.oauth.refresh(self.box.decrypt(secrets.refresh_token))
        except GoogleAccessDenied:
            if not self._reconnected_since(connection, secrets):
                self.store.mark_google_connection_failed(org_id, connection_id, REFUSED)
                log.warning("google refresh refused: org=%s connection=%s", org_id, connection_id)
                raise
            # The user reconnected while this refresh was on its way: use the new grant.
            return self.valid_access(org_id, connection_id, force=True)
        access = self.box.encrypt(grant.access_token)
        self.store.update_google_access(org_id, connection_id, access, grant.expires_at)
        if grant.refresh_token:  # Google rotated the refresh token: keep the new one
            renewed = ConnectionSecrets(self.box.encrypt(grant.refresh_token), access)
            self.store.replace_google_secrets(org_id, connection_id, renewed)
        return grant.access_token, grant.expires_at

    def _reconnected_since(self, connection: GoogleConnection, used: ConnectionSecrets) -> bool:
        """Whether the stored refresh token is no longer the one just refused (a reconnect
        replaced it): then the refusal must not mark the fresh connection failed."""
        now = self.store.google_connection_secrets(connection.org_id, connection.id)
        return now is not None and now.refresh_token != used.refresh_token

    # --- disconnect ---------------------------------------------------------------------------

    def disconnect(self, org_id: str, connection_id: str) -> bool:
        """Revoke the grant at Google (best effort: Google down or the key gone still
        disconnects) and delete the connection; whether there was one.

        Google revokes the whole grant of this OAuth client for that Google account, so when
        another connection (another user, the organisation, another organisation) uses the
        same account the revoke is skipped: it would cut that one off too."""
        connection = self.store.google_connection_by_id(org_id, connection_id)
        secrets = self.store.google_connection_secrets(org_id, connection_id)
        if connection is None or secrets is None:
            return False
        if not self._account_shared(connection):
            self._revoke(connection, secrets)
        return self.store.delete_google_connection(org_id, connection_id)

    def _account_shared(self, connection: GoogleConnection) -> bool:
        if not connection.email:
            return False
        wanted = connection.email.casefold()
        for org_id, other_id in self.store.google_connection_keys():
            if other_id == connection.id:
                continue
            other = self.store.google_connection_by_id(org_id, other_id)
            if other is not None and (other.email or "").casefold() == wanted:
                return True
        return False

    def _revoke(self, connection: GoogleConnection, secrets: ConnectionSecrets) -> None:
        try:
            self.oauth.revoke(self.box.decrypt(secrets.refresh_token))
        except (GoogleError, SecretUnreadable) as exc:
            log.warning(
                "google revoke skipped: org=%s connection=%s reason=%s",
                connection.org_id,
                connection.id,
                type(exc).__name__,
            )

    # --- key rotation -------------------------------------------------------------------------

    def rotation(self) -> SecretRotation:
        """Re-encrypt every connection's tokens that are not under the first key."""
        rotated = current = unreadable = 0
        for org_id, connection_id in self.store.google_connection_keys():
            secrets = self.store.google_connection_secrets(org_id, connection_id)
            if secrets is None:  # disconnected meanwhile
                continue
            try:
                renewed = self._rotated(secrets)
            except SecretUnreadable:
                unreadable += 1
                continue
            if renewed is None:
                current += 1
                continue
            self.store.replace_google_secrets(org_id, connection_id, renewed)
            rotated += 1
        return SecretRotation(rotated, current, unreadable)

    def rotate(self) -> int:
        """How many connections were re-encrypted with the first key; SecretUnreadable (after
        rotating every other one) when some cannot be decrypted with any configured key."""
        done = self.rotation()
        if done.unreadable:
            raise SecretUnreadable(
                f"{done.unreadable} Google connection(s) cannot be decrypted with any key in "
                "KICKFLOW_SECRET_KEY: put the key they were written with back in the list"
            )
        return done.rotated

    def _rotated(self, secrets: ConnectionSecrets) -> ConnectionSecrets | None:
        """The secrets under the first key, or None when they already are."""
        tokens = [secrets.refresh_token] + ([secrets.access_token] if secrets.access_token else [])
        if all(self.box.is_current(t) for t in tokens):
            return None
        access = self.box.rotate(secrets.access_token) if secrets.access_token else None
        return ConnectionSecrets(self.box.rotate(secrets.refresh_token), access)
