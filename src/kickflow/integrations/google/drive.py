"""Google Drive v3: parse the links users paste, read metadata, list folders, download files.

Every call goes out with a connection's access token; a 401 is answered once with a forced
refresh (the token may have expired in flight), a second 401 means the grant is gone. Downloads
stream to disk with byte progress, resume with ``Range`` after a dropped connection and check
Drive's MD5 at the end, so a flaky network costs a few retries, never a corrupt input.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import SplitResult, parse_qs, quote, urlsplit

import httpx

from kickflow.config import Settings
from kickflow.errors import (
    DriveChecksumMismatch,
    DriveFileNotFound,
    DriveLinkInvalid,
    DriveNoAccess,
    DriveNotAFolder,
    DriveNotMedia,
    FileTooLarge,
    GoogleAccessDenied,
    GoogleError,
    GoogleUnavailable,
)
from kickflow.integrations.google.oauth import (
    Backoff,
    google_error,
    google_http,
    is_retryable,
    send_with_retry,
)
from kickflow.integrations.google.types import AccessTokenSource, DriveFile, DriveLink

DRIVE_HOSTS = frozenset({"drive.google.com", "docs.google.com"})
ID_RE = re.compile(r"[A-Za-z0-9_-]{10,128}")
KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
MAX_LINK_CHARS = 2048
FILE_FIELDS = "id,name,mimeType,size,md5Checksum,driveId"
LIST_FIELDS = f"nextPageToken,files({FILE_FIELDS})"
MAX_PAGES = 1000  # 1000 files a page: a million children is more than any delivery
NOT_DOWNLOADABLE_REASONS = frozenset({"fileNotDownloadable", "cannotDownloadAbusiveFile"})
CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

# /file/d/ID, /file/u/0/d/ID, /document/d/ID, /spreadsheets/u/1/d/ID, /presentation/d/ID …
FILE_PATH_RE = re.compile(r"/(?:[a-z]+)(?:/u/\d+)?/d/([^/]+)(?:/.*)?")
# /drive/folders/ID, /drive/u/0/folders/ID, /drive/mobile/folders/ID
FOLDER_PATH_RE = re.compile(r"/drive(?:/u/\d+|/mobile)?/folders/([^/]+)/?")
ID_QUERY_PATHS: dict[str, Literal["file", "folder"]] = {
    "/open": "file",
    "/uc": "file",
    "/folderview": "folder",
}


def parse_drive_link(text: str) -> DriveLink:
    """The file or folder a pasted Drive link points at; DriveLinkInvalid for anything that is
    not an https link on drive.google.com / docs.google.com (a bare id included: the kind of
    a bare id cannot be told, and users paste links)."""
    parts = _split_link(text)
    query = parse_qs(parts.query, keep_blank_values=True)
    key = _single(query, "resourcekey") or None  # an empty key is no key
    if key is not None and not KEY_RE.fullmatch(key):
        raise DriveLinkInvalid()
    kind, item_id = _locate(parts.path, query)
    if not ID_RE.fullmatch(item_id):
        raise DriveLinkInvalid()
    return DriveLink(kind=kind, id=item_id, resource_key=key)


def _split_link(text: str) -> SplitResult:
    """The URL's parts, once it is plainly an https link to one of Drive's own hosts."""
    text = text.strip()
    unusual = any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in text)
    if len(text) > MAX_LINK_CHARS or unusual:
        raise DriveLinkInvalid()
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise DriveLinkInvalid() from exc
    # The whole authority must be the host: no userinfo, no port, no trailing dot.
    if parts.scheme != "https" or parts.netloc.lower() not in DRIVE_HOSTS:
        raise DriveLinkInvalid()
    return parts


def _locate(path: str, query: Mapping[str, list[str]]) -> tuple[Literal["file", "folder"], str]:
    folder = FOLDER_PATH_RE.fullmatch(path)
    if folder:
        return "folder", folder.group(1)
    file = FILE_PATH_RE.fullmatch(path)
    if file and not path.startswith("/drive/"):
        return "file", file.group(1)
    stripped = path.rstrip("/")
    if stripped in ID_QUERY_PATHS:
        item_id = _single(query, "id")
        if item_id is None:
            raise DriveLinkInvalid()
        # /open?id= does not say which; Drive answers both, so it is read as a file and a
        # folder is recognised from its metadata by the caller.
        return ID_QUERY_PATHS[stripped], item_id
    raise DriveLinkInvalid()


def _single(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise DriveLinkInvalid()
    return values[0]


def _drive_file(body: Mapping[str, Any]) -> DriveFile:
    """Drive's JSON for one file; ``size`` arrives as a decimal string."""
    size = body.get("size")
    try:
        size_bytes = int(size) if size is not None else None
    except (TypeError, ValueError):
        size_bytes = None
    md5 = body.get("md5Checksum")
    drive_id = body.get("driveId")
    return DriveFile(
        id=str(body.get("id", "")),
        name=str(body.get("name", "")),
        mime_type=str(body.get("mimeType", "")),
        size=size_bytes,
        md5=md5 if isinstance(md5, str) else None,
        drive_id=drive_id if isinstance(drive_id, str) else None,
    )


def _raise_for_status(response: httpx.Response) -> None:
    """Translate Drive's refusals into the product's sentences."""
    status = response.status_code
    if response.is_success:
        return
    if status == 404:
        raise DriveFileNotFound()
    if status == 403:
        if google_error(response)[1] & NOT_DOWNLOADABLE_REASONS:
            raise DriveNotMedia()
        raise DriveNoAccess()
    if status == 401:
        raise GoogleAccessDenied()
    raise GoogleError(f"Google Drive refused the request (HTTP {status}).")


def _check_id(item_id: str) -> str:
    if not ID_RE.fullmatch(item_id):
        raise DriveLinkInvalid()
    return item_id


@dataclass
class _Progress:
    """Bytes on disk so far and their running MD5 (a resume continues both)."""

    written: int = 0
    md5: Any = field(default_factory=hashlib.md5)  # Drive publishes MD5, so MD5 it is

    def reset(self, out: IO[bytes]) -> None:
        out.seek(0)
        out.truncate()
        self.written = 0
        self.md5 = hashlib.md5()  # noqa: S324 - Drive's checksum, not security


class DriveClient:
    """Drive v3 for one connection's token (shared drives included in every call)."""

    def __init__(
        self,
        settings: Settings,
        tokens: AccessTokenSource,
        transport: httpx.BaseTransport | None = None,
        backoff: Backoff | None = None,
        max_resumes: int = 5,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.transport = transport
        self.backoff = backoff or Backoff.from_settings(settings)
        self.max_resumes = max_resumes
        self.base = settings.google_drive_url.rstrip("/")

    def file(self, file_id: str, resource_key: str | None = None) -> DriveFile:
        """``files.get``: the metadata of one file or folder."""
        params = {"fields": FILE_FIELDS, "supportsAllDrives": "true"}
        body = self._get_json(
            self._file_path(file_id), params, self._key_header(file_id, resource_key)
        )
        return _drive_file(body)

    def list_folder(self, folder_id: str, resource_key: str | None = None) -> list[DriveFile]:
        """The direct children of a folder (not in the bin), every page of them."""
        folder = self.file(folder_id, resource_key)
        if not folder.is_folder:
            raise DriveNotAFolder()
        params = {
            "q": f"'{_check_id(folder_id)}' in parents and trashed=false",
            "fields": LIST_FIELDS,
            "pageSize": "1000",
            "supportsAllDrives": "true",
            "includeItemsFromAllDrives": "true",
        }
        if folder.drive_id:
            params.update(corpora="drive", driveId=folder.drive_id)
        return self._all_pages(params, self._key_header(folder_id, resource_key))

    def account_email(self) -> str | None:
        """The address of the Google account the token belongs to (``about.get``)."""
        body = self._get_json("/about", {"fields": "user(emailAddress)"}, {})
        user = body.get("user")
        email = user.get("emailAddress") if isinstance(user, dict) else None
        return email if isinstance(email, str) else None

    def download(
        self, file: DriveFile, dest: Path, on_bytes: Callable[[int, int | None], None]
    ) -> Path:
        """Stream the file's bytes to ``dest``, calling ``on_bytes(written, total)`` as they
        arrive; resumes after a dropped connection and verifies Drive's MD5. On failure
        ``dest`` is removed: a half file must never pass for the input."""
        if file.is_folder:
            raise DriveNotMedia(
                "This is a Drive folder, not a media file: give its link as a folder."
            )
        if file.is_native:
            raise DriveNotMedia()
        self._check_size(file.size)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._client() as client, dest.open("wb") as out:
                progress = self._fetch_all(client, file, out, on_bytes)
            self._verify(file, progress)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return dest

    # --- downloads -------------------------------------------------------------------------

    def _fetch_all(
        self,
        client: httpx.Client,
        file: DriveFile,
        out: IO[bytes],
        on_bytes: Callable[[int, int | None], None],
    ) -> _Progress:
        progress = _Progress()
        for _ in range(self.max_resumes + 1):
            try:
                if self._fetch_once(client, file, out, progress, on_bytes):
                    return progress
            except httpx.TransportError:
                pass  # dropped mid-body: resume from what is on disk
        raise GoogleUnavailable()

    def _fetch_once(
        self,
        client: httpx.Client,
        file: DriveFile,
        out: IO[bytes],
        progress: _Progress,
        on_bytes: Callable[[int, int | None], None],
    ) -> bool:
        """One request from ``progress.written``; True when the body arrived whole."""
        response = self._open_media(client, file, progress.written)
        try:
            total = self._align(response, file, out, progress)
            for chunk in response.iter_raw():  # as received: a drop loses nothing buffered
                out.write(chunk)
                progress.written += len(chunk)
                progress.md5.update(chunk)
                on_bytes(progress.written, total)
                self._check_size(progress.written)
        finally:
            response.close()
        return total is None or progress.written >= total

    def _open_media(self, client: httpx.Client, file: DriveFile, offset: int) -> httpx.Response:
        url = self.base + self._file_path(file.id)
        params = {"alt": "media", "supportsAllDrives": "true"}

        def send(token: str) -> httpx.Response:
            # identity: Range offsets and the MD5 are about the file's own bytes
            headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            request = client.build_request("GET", url, params=params, headers=headers)
            response = client.send(request, stream=True)
            if not response.is_success:
                response.read()
                response.close()
            return response

        response = self._authorised(send)
        if not response.is_success:
            _raise_for_status(response)
        return response

    def _align(
        self, response: httpx.Response, file: DriveFile, out: IO[bytes], progress: _Progress
    ) -> int | None:
        """Make the file on disk match where this response's body starts; the total size."""
        if response.status_code == 206:
            match = CONTENT_RANGE_RE.fullmatch(response.headers.get("content-range", ""))
            if match and int(match.group(1)) == progress.written:
                return int(match.group(3)) if match.group(3) != "*" else file.size
        progress.reset(out)  # a 200 (Range ignored) or a range we did not ask for: start over
        length = response.headers.get("content-length")
        return int(length) if length and length.isdigit() else file.size

    def _check_size(self, size: int | None) -> None:
        cap = self.settings.max_file_mb * 1_000_000
        if cap and size is not None and size > cap:
            raise FileTooLarge(
                f"The Drive file is larger than the configured maximum "
                f"({self.settings.max_file_mb} MB)."
            )

    @staticmethod
    def _verify(file: DriveFile, progress: _Progress) -> None:
        if file.size is not None and progress.written != file.size:
            raise DriveChecksumMismatch()
        if file.md5 and progress.md5.hexdigest() != file.md5.lower():
            raise DriveChecksumMismatch()

    # --- JSON calls ------------------------------------------------------------------------

    def _all_pages(self, params: dict[str, str], headers: dict[str, str]) -> list[DriveFile]:
        files: list[DriveFile] = []
        for _ in range(MAX_PAGES):
            body = self._get_json("/files", params, headers)
            items = body.get("files")
            if isinstance(items, list):
                files.extend(_drive_file(item) for item in items if isinstance(item, dict))
            page = body.get("nextPageToken")
            if not isinstance(page, str) or not page:
                return files
            params = {**params, "pageToken": page}
        raise GoogleUnavailable("Google Drive kept answering more pages; try again later.")

    def _get_json(
        self, path: str, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        with self._client() as client:

            def send(token: str) -> httpx.Response:
                auth = {**headers, "Authorization": f"Bearer {token}"}
                return client.get(self.base + path, params=params, headers=auth)

            response = self._authorised(send)
        _raise_for_status(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise GoogleUnavailable() from exc
        return body if isinstance(body, dict) else {}

    def _authorised(self, send: Callable[[str], httpx.Response]) -> httpx.Response:
        """Send with the current token; on 401 once more with a forced refresh."""
        response = send_with_retry(
            lambda: send(self.tokens.access_token()), self.backoff, is_retryable
        )
        if response.status_code != 401:
            return response
        fresh = self.tokens.access_token(force_refresh=True)
        response = send_with_retry(lambda: send(fresh), self.backoff, is_retryable)
        if response.status_code == 401:
            raise GoogleAccessDenied()
        return response

    def _client(self) -> httpx.Client:
        return google_http(self.settings, self.transport)

    @staticmethod
    def _file_path(file_id: str) -> str:
        return "/files/" + quote(_check_id(file_id), safe="")

    @staticmethod
    def _key_header(file_id: str, resource_key: str | None) -> dict[str, str]:
        if not resource_key:
            return {}
        if not KEY_RE.fullmatch(resource_key):
            raise DriveLinkInvalid()
        return {"X-Goog-Drive-Resource-Keys": f"{file_id}/{resource_key}"}
