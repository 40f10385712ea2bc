"""Upload storage under the data directory: streamed to disk, safe names, all or nothing.

An upload request writes each file to ``uploads/.incoming/`` while it arrives (never whole in
memory), counting bytes against the request's limit and files against the request's file limit
(the file after the last one allowed is refused before anything of it is written). An empty
file is refused when its part ends. Only when every file of the request has arrived are they
moved to ``uploads/<org>/<upload id>/<name>``; on any error all of them are removed, so a
refused request leaves nothing behind.
"""

from __future__ import annotations

import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from kickflow.errors import TooManyFiles, UnsafeFileName, UploadEmpty, UploadTooLarge

UPLOADS_DIR = "uploads"
INCOMING_DIR = ".incoming"
MAX_NAME_BYTES = 255


def safe_file_name(name: str) -> str:
    """``name`` itself if it is a plain file name; raises UnsafeFileName otherwise."""
    problem = _name_problem(name)
    if problem:
        raise UnsafeFileName(f"file name {name!r} refused: {problem}")
    return name


def _name_problem(name: str) -> str | None:
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


@dataclass(frozen=True)
class StoredUpload:
    """One file of an upload, at its final place."""

    name: str
    path: Path
    size: int


class UploadStorage:
    """The upload area of the data directory."""

    def __init__(self, data_dir: Path, max_request_bytes: int) -> None:
        self.root = (data_dir / UPLOADS_DIR).resolve()
        self.max_request_bytes = max_request_bytes

    def batch(self, org_id: str, *, max_files: int | None = None) -> UploadBatch:
        """A new upload request for ``org_id`` of at most ``max_files`` files (None: any
        number); use it as a context manager."""
        return UploadBatch(self, org_id, max_files)

    def contains(self, path: Path) -> bool:
        """Whether ``path`` lies inside the upload area."""
        return path.resolve().is_relative_to(self.root)

    def remove(self, path: Path) -> bool:
        """Delete a stored upload and its directory; False if it is not in the upload area."""
        resolved = path.resolve()
        if not self.contains(resolved) or resolved.parent == self.root:
            return False
        shutil.rmtree(resolved.parent, ignore_errors=True)
        return True

    def free_bytes(self) -> int:
        """Free space on the file system that holds the uploads."""
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free


class UploadBatch:
    """The files of one request; committed together or removed together."""

    def __init__(self, storage: UploadStorage, org_id: str, max_files: int | None = None) -> None:
        self.storage = storage
        self.org_id = org_id
        self.max_files = max_files
        self.received = 0
        self._incoming: list[tuple[str, Path]] = []
        self._final: list[StoredUpload] = []
        self._current: BinaryIO | None = None
        self._current_bytes = 0

    def __enter__(self) -> UploadBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()

    def start_file(self, name: str) -> None:
        """Begin receiving a file called ``name`` (refused before anything is written)."""
        safe_file_name(name)
        if self.max_files is not None and len(self._incoming) >= self.max_files:
            raise TooManyFiles(
                f"file: more than {self.max_files} files in one upload request; the limit is "
                f"{self.max_files} (KICKFLOW_MAX_FILES_PER_UPLOAD): send the rest separately"
            )
        self.finish_file()
        incoming = self.storage.root / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        path = incoming / f"{uuid.uuid4().hex}.part"
        self._incoming.append((name, path))
        self._current = path.open("xb")
        self._current_bytes = 0

    def write(self, chunk: bytes) -> None:
        """Append a chunk to the current file, enforcing the request's size limit."""
        if self._current is None:
            raise RuntimeError("write() before start_file()")
        self.received += len(chunk)
        if self.received > self.storage.max_request_bytes:
            limit_mb = self.storage.max_request_bytes // (1024 * 1024)
            raise UploadTooLarge(f"upload larger than the limit of {limit_mb} MB")
        self._current.write(chunk)
        self._current_bytes += len(chunk)

    def finish_file(self) -> None:
        """Close the current file, if any; UploadEmpty when it has no bytes."""
        if self._current is None:
            return
        self._close_current()
        if self._current_bytes == 0:
            name = self._incoming[-1][0]
            raise UploadEmpty(f"file {name!r} is empty (0 bytes): send the media file itself")

    def _close_current(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None

    def commit(self) -> list[StoredUpload]:
        """Move every received file to its final place."""
        self.finish_file()
        for name, part in self._incoming:
            target = self.storage.root / self.org_id / uuid.uuid4().hex / name
            target.parent.mkdir(parents=True)
            part.rename(target)
            self._final.append(StoredUpload(name, target, target.stat().st_size))
        self._incoming.clear()
        return list(self._final)

    def discard(self) -> None:
        """Remove everything this request wrote."""
        self._close_current()
        for _, part in self._incoming:
            part.unlink(missing_ok=True)
        for stored in self._final:
            shutil.rmtree(stored.path.parent, ignore_errors=True)
        self._incoming.clear()
        self._final.clear()
