"""One upload request's files, streamed to a backend and committed or removed together.

The request's rules live here, whatever the backend: a file name is checked and the file count
is checked before anything of the file is written; bytes are counted against the request's
limit before they are written; an empty file is refused when its part ends; the SHA-256 is
computed while the bytes go through. A backend only provides a :class:`FileSink` per file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

from kickflow.errors import TooManyFiles, UploadEmpty, UploadTooLarge
from kickflow.storage.names import safe_file_name

log = logging.getLogger("kickflow.storage")


@dataclass(frozen=True)
class StoredUpload:
    """One file of a committed upload: ``ref`` is the job's ``source_ref``."""

    name: str
    ref: str
    size: int
    sha256: str


class FileSink(Protocol):
    """Where one file of a request goes, in a backend."""

    @property
    def buffered(self) -> int:
        """Bytes of this file held in memory right now."""
        ...

    def write(self, chunk: bytes) -> None: ...

    def close(self, sha256: str) -> None:
        """Every byte has arrived: make the file whole (still not committed)."""
        ...

    def commit(self) -> str:
        """Put the file at its final place; returns its upload reference."""
        ...

    def remove(self) -> None:
        """Remove whatever this file wrote, in any state (never raises)."""
        ...


OpenSink = Callable[[str, str], FileSink]  # (org_id, name) -> sink


@dataclass
class _File:
    name: str
    sink: FileSink
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    size: int = 0


class UploadBatch:
    """The files of one request; committed together or removed together. Synchronous: the
    API calls it from a worker thread."""

    def __init__(
        self, open_sink: OpenSink, org_id: str, max_request_bytes: int, max_files: int | None
    ) -> None:
        self._open_sink = open_sink
        self.org_id = org_id
        self.max_request_bytes = max_request_bytes
        self.max_files = max_files
        self.received = 0
        self.buffer_high_water = 0  # the most bytes one file held in memory at once
        self._files: list[_File] = []
        self._current: _File | None = None
        self._committed: list[StoredUpload] | None = None

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
        if self.max_files is not None and len(self._files) >= self.max_files:
            raise TooManyFiles(
                f"file: more than {self.max_files} files in one upload request; the limit is "
                f"{self.max_files} (KICKFLOW_MAX_FILES_PER_UPLOAD): send the rest separately"
            )
        self.finish_file()
        self._current = _File(name, self._open_sink(self.org_id, name))
        self._files.append(self._current)

    def write(self, chunk: bytes) -> None:
        """Append a chunk to the current file, enforcing the request's size limit."""
        current = self._current
        if current is None:
            raise RuntimeError("write() before start_file()")
        self.received += len(chunk)
        if self.received > self.max_request_bytes:
            limit_mb = self.max_request_bytes // (1024 * 1024)
            raise UploadTooLarge(f"upload larger than the limit of {limit_mb} MB")
        current.digest.update(chunk)
        current.sink.write(chunk)
        current.size += len(chunk)
        self.buffer_high_water = max(self.buffer_high_water, current.sink.buffered)

    def finish_file(self) -> None:
        """Close the current file, if any; UploadEmpty when it has no bytes."""
        current, self._current = self._current, None
        if current is None:
            return
        if current.size == 0:
            current.sink.remove()
            raise UploadEmpty(
                f"file {current.name!r} is empty (0 bytes): send the media file itself"
            )
        current.sink.close(current.digest.hexdigest())

    def commit(self) -> list[StoredUpload]:
        """Put every received file at its final place."""
        if self._committed is None:
            self.finish_file()
            self._committed = [
                StoredUpload(f.name, f.sink.commit(), f.size, f.digest.hexdigest())
                for f in self._files
            ]
        return list(self._committed)

    def discard(self) -> None:
        """Remove everything this request wrote, committed or not."""
        for item in self._files:
            item.sink.remove()
        self._files.clear()
        self._current = None
        self._committed = None
