"""The ``url`` source: a media file fetched over http(s) under the outbound policy.

``inspect`` asks with HEAD, and with a one-byte ranged GET when the server refuses HEAD
(signed object-store links are often signed for GET only). ``fetch`` streams the body into
the job's directory. Both refuse a web page (``text/html``): a sharing page instead of the
file is the usual mistake, and FFmpeg's answer to it would be a riddle. The size is checked
against the cap from the declared length before a byte is written and counted while writing.
Every request goes through :mod:`kickflow.net` (addresses checked, pinned, redirects
re-checked, caps on hops, bytes and time).

A connection that drops mid-body is resumed (at most ``MAX_RESUMES`` times) with ``Range:
bytes=<written>-`` when the first answer advertised ``Accept-Ranges: bytes`` and carried a
validator (a strong ``ETag``, else ``Last-Modified``), sent back as ``If-Range``: a file that
changed meanwhile then comes whole (200) and the download starts over instead of splicing two
versions. Without a validator there is no way to tell, so the download is not resumed and the
job's own retry starts it again. The caps (bytes, total time) cover all the requests together.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import ssl
import time
import unicodedata
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote

from kickflow.config import Settings
from kickflow.errors import (
    UrlAccessDenied,
    UrlFailed,
    UrlNotFound,
    UrlNotMedia,
    UrlUnreachable,
)
from kickflow.jobs.sources import OnBytes, SourceInfo, register
from kickflow.net import OutboundClient, OutboundPolicy, Reply, Resolver
from kickflow.net.client import too_large
from kickflow.storage.names import MAX_NAME_BYTES, name_problem

INSPECT_SECONDS = 60.0  # a HEAD that takes longer will not download in time either
WEB_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
RETRYABLE = frozenset({408, 425, 429})
FALLBACK_NAME = "download"
_CONTENT_RANGE_TOTAL = re.compile(r"/\s*(\d+)\s*$")
_CONTENT_RANGE_START = re.compile(r"^\s*bytes\s+(\d+)-")
MAX_RESUMES = 3
log = logging.getLogger("kickflow.sources")


def judge(reply: Reply) -> None:
    """Raise the sentence for an error status; return for a success."""
    code, shown = reply.status_code, reply.shown
    if 200 <= code < 300:
        return
    if code in (404, 410):
        raise UrlNotFound(
            f"{shown}: nothing there (HTTP {code}); it may have been deleted or moved"
        )
    if code in (401, 403):
        raise UrlAccessDenied(
            f"{shown}: access denied (HTTP {code}); check the link is shared and still valid"
        )
    if code in RETRYABLE or code >= 500:
        raise UrlUnreachable(f"{shown}: the server answered HTTP {code}; the job will retry")
    raise UrlFailed(f"{shown}: the server answered HTTP {code}")


def refuse_web_page(reply: Reply) -> None:
    """UrlNotMedia when the answer is an HTML page rather than a file."""
    media_type = reply.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in WEB_PAGE_TYPES:
        raise UrlNotMedia(f"{reply.shown}: the URL gives a web page, not a media file")


def declared_size(reply: Reply) -> int | None:
    """The whole file's size: the total of a ``Content-Range`` (a ranged answer), else the
    ``Content-Length`` of a full one."""
    if reply.status_code in (206, 416):
        match = _CONTENT_RANGE_TOTAL.search(reply.headers.get("content-range", ""))
        return int(match.group(1)) if match else None
    return reply.content_length


# --- the file's name -----------------------------------------------------------------------


def file_name(reply: Reply) -> str:
    """A plain file name for the download: ``Content-Disposition``'s (``filename*`` first),
    else the last segment of the URL's path, else "download"."""
    for candidate in (_disposition_name(reply), _path_name(reply)):
        name = _plain(candidate or "")
        if name:
            return name
    return FALLBACK_NAME


def _disposition_name(reply: Reply) -> str | None:
    """``filename*`` (RFC 6266: it wins, it can carry any character), else ``filename``."""
    value = reply.headers.get("content-disposition")
    if not value:
        return None
    message = Message()
    message["content-disposition"] = value
    params = message.get_params(header="content-disposition") or []
    names = [v for k, v in params if k.lower() == "filename"]
    names.sort(key=lambda v: not isinstance(v, tuple))  # the extended form first
    return collapse_rfc2231_value(names[0]) if names else None


def _path_name(reply: Reply) -> str:
    return unquote(reply.url.path.rsplit("/", 1)[-1])


def _plain(name: str) -> str:
    """``name`` without directories, control characters or leading dots, cut to the storage's
    length (keeping the extension); empty when nothing usable is left."""
    name = PurePosixPath(name.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    while len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem[:-1]}{dot}{suffix}" if dot and len(suffix) <= 12 and stem else name[:-1]
    return "" if name_problem(name) else name


# --- the source ----------------------------------------------------------------------------


class UrlSource:
    """A file at an http(s) URL. ``resolver`` and ``verify`` are for tests (a fake DNS, a
    private CA); the registered instance uses the system's."""

    kind = "url"

    def __init__(
        self, resolver: Resolver | None = None, verify: ssl.SSLContext | bool = True
    ) -> None:
        self._resolver, self._verify = resolver, verify

    def policy(self, settings: Settings) -> OutboundPolicy:
        """The outbound policy from ``KICKFLOW_URL_*``."""
        return OutboundPolicy.from_settings(settings, resolver=self._resolver, verify=self._verify)

    def inspect(self, ref: str, settings: Settings) -> SourceInfo:
        policy = self.policy(settings)
        limits = dataclasses.replace(
            policy.limits, total_seconds=min(policy.limits.total_seconds, INSPECT_SECONDS)
        )
        with OutboundClient(dataclasses.replace(policy, limits=limits)) as client:
            info = self._head(client, ref)
            return info if info is not None else self._first_byte(client, ref)

    def _head(self, client: OutboundClient, ref: str) -> SourceInfo | None:
        """What HEAD says, or None when the server does not answer HEAD with a success."""
        with client.open("HEAD", ref) as reply:
            if reply.status_code not in (404, 410) and not 200 <= reply.status_code < 300:
                return None
            return _described(reply)

    def _first_byte(self, client: OutboundClient, ref: str) -> SourceInfo:
        with client.open("GET", ref, headers={"Range": "bytes=0-0"}) as reply:
            if reply.status_code == 416:  # an empty file has no first byte
                return SourceInfo(file_name(reply), declared_size(reply))
            return _described(reply)

    def fetch(self, ref: str, dest_dir: Path, settings: Settings, on_bytes: OnBytes) -> Path:
        policy = self.policy(settings)
        download = Download(dest_dir, on_bytes, policy)
        resumes = 0
        try:
            while True:
                try:
                    return self._attempt(ref, download)
                except UrlUnreachable:
                    if resumes == MAX_RESUMES or not download.resumable():
                        raise
                    resumes += 1
                    log.info(
                        "URL download resumed at byte %d (resume %d)", download.written, resumes
                    )
        finally:
            download.close()

    def _attempt(self, ref: str, download: Download) -> Path:
        """One GET: the whole file, or the rest of it when ``download`` can resume."""
        headers = download.resume_headers()
        with (
            OutboundClient(download.remaining_policy()) as client,
            client.open("GET", ref, headers=headers) as reply,
        ):
            if headers and reply.status_code == 206:
                download.check_continues(reply)
            else:  # the first answer, or the server sent the whole file again
                download.restart(reply, _described(reply))
            for chunk in reply.iter_bytes():
                download.write(chunk)
        return download.finish()


def _described(reply: Reply) -> SourceInfo:
    """The file's name and size from a successful answer; the sentence for anything else."""
    judge(reply)
    refuse_web_page(reply)
    size = declared_size(reply)
    reply.check_size(size)
    return SourceInfo(file_name(reply), size)


register(UrlSource())


# --- one download across resumes -----------------------------------------------------------


def validator(reply: Reply) -> str | None:
    """What ``If-Range`` may carry: a strong ``ETag``, else ``Last-Modified`` (RFC 9110 13.1.5
    forbids a weak entity tag there)."""
    etag: str = reply.headers.get("etag", "").strip()
    if etag and not etag.startswith("W/"):
        return etag
    modified: str = reply.headers.get("last-modified", "").strip()
    return modified or None


class Download:
    """The bytes written so far of one URL download, and what a resume needs: the name and
    size from the first answer, its validator, and the policy's caps left for the rest."""

    def __init__(self, dest_dir: Path, on_bytes: OnBytes, policy: OutboundPolicy) -> None:
        self.dest_dir, self.on_bytes, self.policy = dest_dir, on_bytes, policy
        self.ends = time.monotonic() + policy.limits.total_seconds
        self.dest: Path | None = None
        self.size: int | None = None
        self.validator: str | None = None
        self.ranges = False
        self.written = 0
        self.shown = ""
        self._out: BinaryIO | None = None

    def resumable(self) -> bool:
        """Whether the rest can be asked for: bytes written, ranges and a validator
        advertised, time left."""
        return (
            self.written > 0
            and self.ranges
            and self.validator is not None
            and time.monotonic() < self.ends
        )

    def resume_headers(self) -> dict[str, str]:
        if not self.written or not self.resumable():
            return {}
        assert self.validator is not None
        return {"Range": f"bytes={self.written}-", "If-Range": self.validator}

    def remaining_policy(self) -> OutboundPolicy:
        """The policy with the time left of the whole download as its total."""
        left = max(0.001, self.ends - time.monotonic())
        return dataclasses.replace(
            self.policy, limits=dataclasses.replace(self.policy.limits, total_seconds=left)
        )

    def restart(self, reply: Reply, info: SourceInfo) -> None:
        """Start (again) from the first byte with what this whole answer says."""
        if self.dest is None:
            self.dest = self.dest_dir / info.file_name
        self.size, self.validator, self.shown = info.size, validator(reply), reply.shown
        self.ranges = "bytes" in reply.headers.get("accept-ranges", "").lower()
        self.close()
        self._out = self.dest.open("wb")
        self.written = 0

    def check_continues(self, reply: Reply) -> None:
        """UrlFailed unless a 206 answer starts where the file stops, of the same file."""
        match = _CONTENT_RANGE_START.match(reply.headers.get("content-range", ""))
        same_size = self.size is None or declared_size(reply) == self.size
        if match is None or int(match.group(1)) != self.written or not same_size:
            raise UrlFailed(f"{reply.shown}: the server resumed the download at the wrong place")
        refuse_web_page(reply)

    def write(self, chunk: bytes) -> None:
        assert self._out is not None and self.dest is not None
        cap = self.policy.limits.max_bytes
        if cap is not None and self.written + len(chunk) > cap:
            raise too_large(self.shown, self.written + len(chunk), cap, complete=False)
        self._out.write(chunk)
        self.written += len(chunk)
        self.on_bytes(self.written, self.size)

    def finish(self) -> Path:
        assert self.dest is not None
        self.close()
        return self.dest

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
