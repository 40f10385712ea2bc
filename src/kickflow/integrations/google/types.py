"""Shapes shared by the Google modules, the store and the job source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
FOLDER_MIME = "application/vnd.google-apps.folder"
NATIVE_MIME_PREFIX = "application/vnd.google-apps."  # Docs, Sheets, Slides …: no bytes to QC
ORG_OWNER = ""  # GoogleConnection.user_id of an organisation-level connection


@dataclass(frozen=True)
class TokenGrant:
    """What Google's token endpoint answered: an access token with its expiry (epoch
    seconds), and a refresh token on the first exchange (None on a refresh)."""

    access_token: str
    expires_at: float
    refresh_token: str | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class GoogleConnection:
    """One user's (or, ``user_id == ORG_OWNER``, one organisation's) link to a Google
    account. Never carries the tokens themselves: those stay encrypted in the store."""

    id: str
    org_id: str
    user_id: str  # ORG_OWNER for the organisation-level connection an admin made
    email: str | None
    scopes: tuple[str, ...]
    status: Literal["ok", "refresh_failed"]
    last_error: str | None
    access_expires_at: float | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ConnectionSecrets:
    """The encrypted tokens of a connection (SecretBox tokens, never plaintext)."""

    refresh_token: str
    access_token: str | None


class AccessTokenSource(Protocol):
    """Gives a valid access token for one connection, refreshing it when it is about to
    expire or when ``force_refresh`` (Google answered 401). Raises GoogleAccessDenied when the
    grant is revoked or expired, GoogleUnavailable when Google cannot be reached."""

    def access_token(self, force_refresh: bool = False) -> str: ...


@dataclass(frozen=True)
class DriveLink:
    """A Drive link as a user pasted it: a file or a folder id (and the resource key some
    older shared links need)."""

    kind: Literal["file", "folder"]
    id: str
    resource_key: str | None = None


@dataclass(frozen=True)
class DriveFile:
    """Drive's metadata of one file (``files.get`` / ``files.list``)."""

    id: str
    name: str
    mime_type: str
    size: int | None
    md5: str | None
    drive_id: str | None = None  # the shared drive it lives on, None in My Drive

    @property
    def is_folder(self) -> bool:
        return self.mime_type == FOLDER_MIME

    @property
    def is_native(self) -> bool:
        """A Google document (no downloadable bytes), a folder excluded."""
        return self.mime_type.startswith(NATIVE_MIME_PREFIX) and not self.is_folder
