"""Names in the storage: upload file names, upload references and artefact keys (pure).

An upload reference is ``<org>/<upload id>/<name>``: the organisation, a fresh random id per
stored file, and the file's own name. An artefact key is ``artifacts/<org>/<job>/<name>``.
Every component is checked here, once, before any backend builds a path or an object key from
it: no separators, no leading dot (so a checksum sidecar can never collide with an upload), no
control characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kickflow.errors import StoredObjectMissing, UnsafeFileName

MAX_NAME_BYTES = 255
ARTIFACTS = "artifacts"
SIDECAR_SUFFIX = ".sha256"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def safe_file_name(name: str) -> str:
    """``name`` itself if it is a plain file name; raises UnsafeFileName otherwise."""
    problem = name_problem(name)
    if problem:
        raise UnsafeFileName(f"file name {name!r} refused: {problem}")
    return name


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a stored file's name, or None."""
    if not name or not name.strip():
        return "it is empty"
    if "\x00" in name or any(unicodedata.category(c) == "Cc" for c in name):
        return "it contains a NUL or control character"
    if "/" in name or "\\" in name:
        return "it contains a path separator (send the file name only, no directories or ../)"
    if name in {".", ".."} or name.startswith("."):
        return "it starts with a dot"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def is_id(value: str) -> bool:
    """Whether ``value`` is an organisation, upload or job id as the storage accepts them."""
    return bool(_ID.match(value))


@dataclass(frozen=True)
class UploadRef:
    """A parsed upload reference."""

    org_id: str
    upload_id: str
    name: str

    def __str__(self) -> str:
        return f"{self.org_id}/{self.upload_id}/{self.name}"

    @property
    def parts(self) -> tuple[str, str, str]:
        return self.org_id, self.upload_id, self.name


def parse_ref(ref: str) -> UploadRef:
    """The parts of ``ref``; StoredObjectMissing when it cannot name a stored upload."""
    parts = ref.split("/")
    if len(parts) == 3 and is_id(parts[0]) and is_id(parts[1]) and not name_problem(parts[2]):
        return UploadRef(*parts)
    raise StoredObjectMissing("invalid upload reference")


@dataclass(frozen=True)
class ArtifactKey:
    """A parsed artefact key."""

    org_id: str
    job_id: str
    name: str

    def __str__(self) -> str:
        return f"{ARTIFACTS}/{self.org_id}/{self.job_id}/{self.name}"


def artifact_key(org_id: str, job_id: str, name: str) -> ArtifactKey:
    """The key of a job's artefact; UnsafeFileName or StoredObjectMissing on bad parts."""
    safe_file_name(name)
    if not (is_id(org_id) and is_id(job_id)):
        raise StoredObjectMissing("invalid artefact key")
    return ArtifactKey(org_id, job_id, name)


def parse_artifact_key(key: str) -> ArtifactKey:
    """The parts of ``key`` (as put_artifact returned it); StoredObjectMissing otherwise."""
    parts = key.split("/")
    ids_ok = len(parts) == 4 and is_id(parts[1]) and is_id(parts[2])
    if ids_ok and parts[0] == ARTIFACTS and not name_problem(parts[3]):
        return ArtifactKey(parts[1], parts[2], parts[3])
    raise StoredObjectMissing("invalid artefact key")
