"""The ``url`` source: a media file fetched over http(s) under the outbound policy.

``inspect`` asks with HEAD, and with a one-byte ranged GET when the server refuses HEAD
(signed object-store links are often signed for GET only). ``fetch`` streams the body into
the job's directory. Both refuse a web page (``text/html``): a sharing page instead of the
file is the usual mistake, and FFmpeg's answer to it would be a riddle. The size is checked
against the cap from the declared length before a byte is written and counted while writing.
Every request goes through :mod:`kickflow.net` (addresses checked, pinned, redirects
re-checked, caps on hops, bytes and time).
"""

from __future__ import annotations

import dataclasses
import re
import ssl
import unicodedata
from email.message import Message
from email.utils import collapse_rfc2231_value
from pathlib import Path, PurePosixPath
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
from kickflow.storage.names import MAX_NAME_BYTES, name_problem

INSPECT_SECONDS = 60.0  # a HEAD that takes longer will not download in time either
WEB_PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
RETRYABLE = frozenset({408, 425, 429})
FALLBACK_NAME = "download"
_CONTENT_RANGE_TOTAL = re.compile(r"/\s*(\d+)\s*$")


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
        with OutboundClient(self.policy(settings)) as client, client.open("GET", ref) as reply:
            info = _described(reply)
            dest, done = dest_dir / info.file_name, 0
            with dest.open("wb") as out:
                for chunk in reply.iter_bytes():
                    out.write(chunk)
                    done += len(chunk)
                    on_bytes(done, info.size)
        return dest


def _described(reply: Reply) -> SourceInfo:
    """The file's name and size from a successful answer; the sentence for anything else."""
    judge(reply)
    refuse_web_page(reply)
    size = declared_size(reply)
    reply.check_size(size)
    return SourceInfo(file_name(reply), size)


register(UrlSource())
