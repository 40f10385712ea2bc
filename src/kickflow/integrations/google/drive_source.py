"""The ``drive`` source: a file in Google Drive, read with the access token of one Google
connection of the job's organisation.

A job's reference is ``<connection id>/<file id>`` (``/<resource key>`` appended when the link
had one); it never holds a token. Unlike the other source types a Drive file can only be read
on behalf of someone, so the registered instance is *unbound* and refuses to read: a worker
binds it to the job's organisation (:func:`for_org`, a direct worker, tokens from the store) or
to the tokens the service hands out for one lease (an HTTP worker, which then reads Drive at
its own KICKFLOW_GOOGLE_DRIVE_URL). Binding by organisation is
what keeps tenants apart: the connection id in a reference is looked up inside the job's own
organisation only, so another organisation's id is simply "not connected".

The file's size from Drive's metadata is checked against KICKFLOW_MAX_FILE_MB before a byte is
downloaded; the download itself (progress, ``Range`` resume, refresh on 401, md5 check) is
:meth:`DriveClient.download`'s.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, cast

import httpx

from kickflow.config import Settings
from kickflow.errors import DriveNotMedia, FileTooLarge, GoogleNotConnected, SourceNotAllowed
from kickflow.integrations.google.types import AccessTokenSource, DriveFile
from kickflow.jobs.sources import OnBytes, SourceInfo, register
from kickflow.storage.names import MAX_NAME_BYTES, name_problem

if TYPE_CHECKING:
    from kickflow.integrations.google.drive import DriveClient
    from kickflow.jobs.port import GoogleConnectionsPort

KIND = "drive"
FALLBACK_NAME = "drive-file"
TokenLookup = Callable[[str], AccessTokenSource]  # connection id -> its access tokens


@dataclass(frozen=True)
class DriveRef:
    """A ``drive`` job's reference, parsed."""

    connection_id: str
    file_id: str
    resource_key: str | None = None

    def __str__(self) -> str:
        parts = [self.connection_id, self.file_id]
        return "/".join([*parts, self.resource_key] if self.resource_key else parts)


def parse_ref(ref: str) -> DriveRef:
    """The parts of a stored reference; SourceNotAllowed for anything else (a reference is
    written by the service, so a bad one is a bug or tampering, not a user's typo)."""
    parts = ref.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise SourceNotAllowed("invalid Google Drive reference")
    return DriveRef(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def shown_name(name: str) -> str:
    """Drive's file name as a plain local file name: no directories, control characters or
    leading dots, cut to the storage's length; a fixed name when nothing usable is left."""
    name = PurePosixPath(name.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem[:-1]}{dot}{suffix}" if dot and len(suffix) <= 12 and stem else name[:-1]
    return FALLBACK_NAME if name_problem(name) else name


def check_size(file: DriveFile, settings: Settings) -> None:
    """FileTooLarge when Drive says the file is over KICKFLOW_MAX_FILE_MB (before any byte)."""
    from kickflow.worker.control import too_large_message

    max_bytes = settings.max_file_mb * 1_000_000
    if max_bytes and file.size is not None and file.size > max_bytes:
        raise FileTooLarge(too_large_message(file.size, max_bytes))


def refuse_unreadable(file: DriveFile) -> None:
    """DriveNotMedia for a Google document or a folder: there are no bytes to check."""
    if file.is_native:
        raise DriveNotMedia(
            f"{file.name} is a Google document, not a media file: only uploaded files "
            "can be checked"
        )
    if file.is_folder:
        raise DriveNotMedia(f"{file.name} is a Drive folder: submit the folder's link instead")


class DriveSource:
    """A file in Google Drive. ``lookup`` gives the access tokens of a connection id (None:
    unbound, nothing can be read); ``transport`` is for tests."""

    kind = KIND

    def __init__(
        self, lookup: TokenLookup | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._lookup, self._transport = lookup, transport

    def bound(self, lookup: TokenLookup) -> DriveSource:
        """The same source reading with ``lookup``'s tokens."""
        return DriveSource(lookup, self._transport)

    def client(self, ref: DriveRef, settings: Settings) -> DriveClient:
        """A Drive client with the reference's connection's tokens."""
        from kickflow.integrations.google.drive import DriveClient

        if self._lookup is None:
            raise GoogleNotConnected(
                "Google Drive is not connected for this job: connect Google Drive in Settings"
            )
        return DriveClient(settings, self._lookup(ref.connection_id), transport=self._transport)

    def metadata(self, ref: str, settings: Settings) -> tuple[DriveClient, DriveFile]:
        """The client and the file's metadata; DriveNotMedia for a document or a folder."""
        parsed = parse_ref(ref)
        client = self.client(parsed, settings)
        file = client.file(parsed.file_id, parsed.resource_key)
        refuse_unreadable(file)
        return client, file

    def inspect(self, ref: str, settings: Settings) -> SourceInfo:
        _, file = self.metadata(ref, settings)
        return SourceInfo(shown_name(file.name), file.size)

    def fetch(self, ref: str, dest_dir: Path, settings: Settings, on_bytes: OnBytes) -> Path:
        client, file = self.metadata(ref, settings)
        check_size(file, settings)
        dest_dir.mkdir(parents=True, exist_ok=True)
        return client.download(file, dest_dir / shown_name(file.name), on_bytes)


def org_lookup(connections: GoogleConnectionsPort, settings: Settings, org_id: str) -> TokenLookup:
    """Token sources for connection ids of ``org_id`` only (the store's lookup is scoped)."""
    from kickflow.integrations.google.tokens import GoogleTokens

    tokens = GoogleTokens(connections, settings)
    return lambda connection_id: tokens.access_source(org_id, connection_id)


def for_org(connections: GoogleConnectionsPort, settings: Settings, org_id: str) -> DriveSource:
    """The registered source bound to ``org_id``'s connections (a direct worker)."""
    return SOURCE.bound(org_lookup(connections, settings, org_id))


def for_store(store: object, settings: Settings, org_id: str) -> DriveSource:
    """:func:`for_org` with a worker's store; a store without Google connections (a test's
    partial fake) reads nothing, so its Drive jobs fail as not connected."""
    if not callable(getattr(store, "google_connection_secrets", None)):
        return SOURCE
    return for_org(cast("GoogleConnectionsPort", store), settings, org_id)


SOURCE = DriveSource()
register(SOURCE)
