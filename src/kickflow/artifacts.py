"""A job's artefacts (the thumbnails at video findings): their names, their content types, and
which of them a stored report lists.

An artefact is named after the attempt that made it, plus a random tag of that attempt
(``a2-3f9c1e-thumb-07.jpg``). A worker whose lease is lost between its last check and its write
therefore never overwrites what the accepted attempt stored, a re-processed job (whose attempts
count from 1 again) never reuses a name a browser may have cached, and the only artefacts that
can be read back are the ones the accepted report names.

The report lists them under ``artifacts`` (``[{name, kind, content_type, bytes, at_s}]``); a
finding that has a picture names it in its ``thumbnail`` field.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from kickflow.errors import RequestInvalid

CONTENT_TYPES = {"jpg": "image/jpeg"}
MAX_ARTIFACT_BYTES = 1024 * 1024  # a 320 px JPEG is 5–30 kB
_NAME = re.compile(r"^a([1-9][0-9]{0,5})-[0-9a-f]{6}-[a-z][a-z0-9-]{0,40}\.(jpg)$")


def attempt_tag() -> str:
    """A fresh random tag for one attempt's artefact names."""
    return secrets.token_hex(3)


def artifact_name(attempt: int, tag: str, stem: str, extension: str = "jpg") -> str:
    """The name of one artefact of an attempt, e.g. ``a1-3f9c1e-thumb-00.jpg``."""
    name = f"a{attempt}-{tag}-{stem}.{extension}"
    if name_attempt(name) != attempt:
        raise ValueError(f"not a valid artefact name: {name!r}")
    return name


def name_attempt(name: str) -> int | None:
    """The attempt a well-formed artefact name belongs to; None for any other name."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def check_upload(name: str, attempt: int, size: int) -> None:
    """RequestInvalid unless a worker of ``attempt`` may store ``size`` bytes as ``name``."""
    found = name_attempt(name)
    if found is None:
        raise RequestInvalid("artefact name refused: expected a<attempt>-<tag>-<stem>.jpg")
    if found != attempt:
        raise RequestInvalid(
            f"artefact {name} is named for attempt {found}, but the lease is attempt {attempt}"
        )
    if size > MAX_ARTIFACT_BYTES:
        raise RequestInvalid(f"artefact {name} is {size} bytes, over {MAX_ARTIFACT_BYTES}")


def content_type(name: str) -> str:
    """The Content-Type an artefact is served with."""
    return CONTENT_TYPES.get(name.rpartition(".")[2], "application/octet-stream")


def listed(report: dict[str, Any] | None) -> list[str]:
    """The artefact names a stored report lists (none for a report without artefacts)."""
    entries = (report or {}).get("artifacts") or []
    return [e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)]
