"""A Drive link as job submissions: a file link is one job; a folder link is one job per media
file directly in that folder (sub-folders are not walked: a vendor's delivery folder is flat,
and walking a whole tree from one pasted link could queue a drive's worth of jobs).

Subtitle files in the folder go with the media file of the same name, the rule an upload
follows (:func:`kickflow.jobs.sidecars.pair`: ``EP01.mov`` takes ``EP01.en.srt``); their sizes
are checked from Drive's metadata here and their contents by the worker's loader. Google
documents are refused with a sentence; a folder without media files is DriveFolderEmpty. Every
check runs before the first job is made, so a refused link queues nothing.

Whose Drive: a dashboard session reads with its user's own connection, an API token with the
organisation-level one an admin made (``user_id == ORG_OWNER``); never anybody else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import httpx

from kickflow.config import Settings
from kickflow.errors import (
    DriveFolderEmpty,
    GoogleNotConfigured,
    GoogleNotConnected,
    SubtitleRefused,
)
from kickflow.integrations.google.drive_source import (
    KIND,
    DriveRef,
    refuse_unreadable,
    shown_name,
)
from kickflow.integrations.google.types import ORG_OWNER, DriveFile, GoogleConnection
from kickflow.jobs import sidecars
from kickflow.jobs.models import Sidecar
from kickflow.jobs.sidecars import MEDIA_SUFFIXES, SUBTITLE_SUFFIXES

if TYPE_CHECKING:
    from kickflow.integrations.google.drive import DriveClient
    from kickflow.integrations.google.tokens import GoogleTokens

MEDIA_TYPES = ("video/", "audio/", "application/mxf")


@dataclass(frozen=True)
class DriveSubmission:
    """One job to queue: its ``drive`` reference, the name it is shown under, Drive's size,
    and the subtitle files that go with it."""

    ref: str
    file_id: str
    file_name: str
    size: int | None
    subtitles: tuple[Sidecar, ...] = ()


def _suffix(file: DriveFile) -> str:
    return PurePosixPath(file.name).suffix.casefold()


def is_subtitle(file: DriveFile) -> bool:
    return not file.is_native and not file.is_folder and _suffix(file) in SUBTITLE_SUFFIXES


def is_media(file: DriveFile) -> bool:
    """A file worth a job: audio or video by Drive's type or by its extension."""
    if file.is_native or file.is_folder or is_subtitle(file):
        return False
    return file.mime_type.startswith(MEDIA_TYPES) or _suffix(file) in MEDIA_SUFFIXES


def connection_for_caller(
    tokens: GoogleTokens, org_id: str, user_id: str | None
) -> GoogleConnection:
    """The caller's connection: the user's own for a session (``user_id``), the organisation's
    for an API token (None); GoogleNotConnected when there is none."""
    found = tokens.connection_for(org_id, user_id if user_id is not None else ORG_OWNER)
    if found is None:
        whose = (
            "your account" if user_id is not None else "this organisation (an admin connects it)"
        )
        raise GoogleNotConnected(
            f"Google Drive is not connected for {whose}: connect Google Drive in Settings first"
        )
    return found


def _ref(connection_id: str, file: DriveFile, resource_key: str | None) -> str:
    return str(DriveRef(connection_id, file.id, resource_key))


def one_file(connection_id: str, file: DriveFile, resource_key: str | None) -> DriveSubmission:
    """A file link's job (DriveNotMedia for a Google document)."""
    refuse_unreadable(file)
    ref = _ref(connection_id, file, resource_key)
    return DriveSubmission(ref, file.id, shown_name(file.name), file.size)


def _sidecar(connection_id: str, file: DriveFile, settings: Settings) -> Sidecar:
    limit = sidecars.max_bytes(settings)
    if file.size is not None and file.size > limit:
        raise SubtitleRefused(sidecars.too_big_message(file.name, file.size, limit))
    return Sidecar(KIND, _ref(connection_id, file, None), shown_name(file.name), file.size)


def folder_jobs(
    connection_id: str, folder: DriveFile, children: list[DriveFile], settings: Settings
) -> list[DriveSubmission]:
    """One submission per media file in ``children``, each with its subtitle files."""
    media = sorted((f for f in children if is_media(f)), key=lambda f: f.name.casefold())
    if not media:
        raise DriveFolderEmpty(
            f"The Drive folder {shown_name(folder.name)} holds no media files "
            "(audio or video); Google documents and sub-folders are not checked"
        )
    subs = sorted((f for f in children if is_subtitle(f)), key=lambda f: f.name.casefold())
    paired = sidecars.pair([f.name for f in media], [f.name for f in subs], settings)
    out = []
    for file, own in zip(media, paired, strict=True):
        side = tuple(_sidecar(connection_id, subs[i], settings) for i in own)
        ref = _ref(connection_id, file, None)
        out.append(DriveSubmission(ref, file.id, shown_name(file.name), file.size, side))
    return out


def plan(
    client: DriveClient,
    connection_id: str,
    file_id: str,
    resource_key: str | None,
    settings: Settings,
) -> list[DriveSubmission]:
    """What a link to ``file_id`` queues: the file itself, or a folder's media files. The
    metadata decides, not the link's form (a folder's id in a file link is still a folder)."""
    item = client.file(file_id, resource_key)
    if not item.is_folder:
        return [one_file(connection_id, item, resource_key)]
    children = client.list_folder(item.id, resource_key)
    return folder_jobs(connection_id, item, children, settings)


def plan_link(
    tokens: GoogleTokens,
    settings: Settings,
    org_id: str,
    user_id: str | None,
    url: str,
    transport: httpx.BaseTransport | None = None,
) -> list[DriveSubmission]:
    """The submissions for a pasted Drive ``url`` on behalf of the caller (see the module
    docstring for whose connection); DriveLinkInvalid for a link that is not Drive's."""
    from kickflow.integrations.google.drive import DriveClient, parse_drive_link

    link = parse_drive_link(url)
    if not tokens.oauth.configured:
        raise GoogleNotConfigured()
    connection = connection_for_caller(tokens, org_id, user_id)
    source = tokens.access_source(org_id, connection.id)
    client = DriveClient(settings, source, transport=transport)
    return plan(client, connection.id, link.id, link.resource_key, settings)
