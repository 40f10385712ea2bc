"""Uploads and artefacts in the data directory.

A file arrives in ``uploads/.incoming/`` and is moved to ``uploads/<org>/<upload id>/<name>``
on commit, next to its checksum sidecar ``.sha256`` (a name no upload can have: upload names
never start with a dot). Artefacts live under ``artifacts/<org>/<job>/``. Files are opened by
walking from the area's root with ``O_NOFOLLOW`` on every component, so a symbolic link put
inside the area leads nowhere.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from kickflow.errors import StorageError, StoredObjectMissing
from kickflow.storage.base import CHUNK, Health, OnBytes, StoredObject, fetch_verified, is_sha256
from kickflow.storage.batch import UploadBatch
from kickflow.storage.names import (
    ArtifactKey,
    UploadRef,
    artifact_key,
    is_id,
    parse_artifact_key,
    parse_ref,
)

UPLOADS_DIR = "uploads"
INCOMING_DIR = ".incoming"
ARTIFACTS_DIR = "artifacts"
SIDECAR = ".sha256"
WARN_FREE_BYTES = 1024**3
ERROR_FREE_BYTES = 256 * 1024**2

ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
DIR_FLAGS = ROOT_FLAGS | os.O_NOFOLLOW
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
MISSING_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


def open_below(root: Path, parts: Sequence[str], shown: str) -> int:
    """A descriptor of the regular file ``parts`` below ``root`` (the caller closes it);
    StoredObjectMissing when it is absent, behind a symbolic link, or not a regular file."""
    try:
        fd = os.open(root, ROOT_FLAGS)
    except OSError as exc:
        raise _os_error(exc, shown) from None
    try:
        for part in parts[:-1]:
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        file_fd = os.open(parts[-1], FILE_FLAGS, dir_fd=fd)
    except OSError as exc:
        raise _os_error(exc, shown) from None
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(file_fd).st_mode):
        os.close(file_fd)
        raise StoredObjectMissing(f"{shown}: the stored file is missing")
    return file_fd


def _os_error(exc: OSError, shown: str) -> StorageError:
    if exc.errno in MISSING_ERRNOS:
        return StoredObjectMissing(f"{shown}: the stored file is missing")
    reason = os.strerror(exc.errno or errno.EIO).lower()
    return StorageError(f"{shown}: the upload storage cannot be read ({reason})")


def _chunks(src: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    try:
        while chunk := src.read(chunk_size):
            yield chunk
    finally:
        src.close()


def _write_atomically(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


class LocalStorage:
    """The upload and artefact areas of the data directory."""

    kind = "local"

    def __init__(self, data_dir: Path, max_request_bytes: int) -> None:
        self.root = (data_dir / UPLOADS_DIR).resolve()
        self.artifacts_root = (data_dir / ARTIFACTS_DIR).resolve()
        self.max_request_bytes = max_request_bytes

    # --- uploads ------------------------------------------------------------------------

    def batch(self, org_id: str, *, max_files: int | None = None) -> UploadBatch:
        """A new upload request for ``org_id`` of at most ``max_files`` files (None: any
        number); use it as a context manager."""
        if not is_id(org_id):
            raise ValueError(f"invalid organisation id {org_id!r}")
        return UploadBatch(self._sink, org_id, self.max_request_bytes, max_files)

    def _sink(self, org_id: str, name: str) -> LocalSink:
        return LocalSink(self.root, org_id, name)

    def stat(self, ref: str) -> StoredObject:
        parsed = parse_ref(ref)
        fd = self._open(parsed)
        try:
            size = os.fstat(fd).st_size
            sha256 = self._sidecar(parsed) or self._remember_digest(parsed, fd)
        finally:
            os.close(fd)
        return StoredObject(ref, size, sha256)

    def read(self, ref: str, start: int = 0, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The file's bytes from offset ``start`` (opened now: a missing file raises here)."""
        if start < 0:
            raise ValueError("start must not be negative")
        fd = self._open(parse_ref(ref))
        os.lseek(fd, start, os.SEEK_SET)
        return _chunks(os.fdopen(fd, "rb", buffering=0), chunk_size)

    def presigned_url(self, ref: str, expires_seconds: float) -> str | None:
        return None

    def local_path(self, ref: str) -> Path | None:
        """The stored file itself (checked to be a regular file reached without links)."""
        parsed = parse_ref(ref)
        os.close(self._open(parsed))
        return self.root.joinpath(*parsed.parts)

    def fetch(self, ref: str, dest_dir: Path, on_bytes: OnBytes) -> Path:
        return fetch_verified(self, ref, dest_dir, on_bytes)

    def remove(self, ref: str) -> bool:
        """Delete a stored upload (and its sidecar); False when there is no such upload."""
        try:
            parsed = parse_ref(ref)
        except StoredObjectMissing:
            return False
        org_dir = self.root / parsed.org_id
        directory = org_dir / parsed.upload_id
        if not (_is_real_dir(org_dir) and _is_real_dir(directory)):
            return False
        if not os.path.lexists(directory / parsed.name):
            return False
        shutil.rmtree(directory, ignore_errors=True)
        return True

    def health(self) -> Health:
        self.root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.root).free
        details = {"kind": self.kind, "free_bytes": free, "free_gb": round(free / 1024**3, 2)}
        if free < ERROR_FREE_BYTES:
            return "error", "less than 256 MB free for uploads", details
        if free < WARN_FREE_BYTES:
            return "warning", "less than 1 GB free for uploads", details
        return "ok", f"{details['free_gb']} GB free", details

    def _open(self, parsed: UploadRef) -> int:
        return open_below(self.root, parsed.parts, f"upload {parsed}")

    def _sidecar(self, parsed: UploadRef) -> str | None:
        try:
            fd = open_below(self.root, (parsed.org_id, parsed.upload_id, SIDECAR), "sidecar")
        except StorageError:
            return None
        with os.fdopen(fd, "rb") as src:
            words = src.read(4096).decode("ascii", "replace").split()
        return words[0] if words and is_sha256(words[0]) else None

    def _remember_digest(self, parsed: UploadRef, fd: int) -> str:
        """The SHA-256 of a file stored without a sidecar (a CLI copy), now kept in one."""
        digest = hashlib.sha256()
        while chunk := os.read(fd, CHUNK):
            digest.update(chunk)
        directory = self.root / parsed.org_id / parsed.upload_id
        _write_atomically(directory / SIDECAR, f"{digest.hexdigest()}  {parsed.name}\n".encode())
        return digest.hexdigest()

    # --- artefacts ----------------------------------------------------------------------

    def put_artifact(self, org_id: str, job_id: str, name: str, data: bytes) -> str:
        key = artifact_key(org_id, job_id, name)
        directory = self.artifacts_root / org_id / job_id
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(directory / name, data)
        return str(key)

    def read_artifact(self, key: str) -> bytes:
        parsed: ArtifactKey = parse_artifact_key(key)
        parts = (parsed.org_id, parsed.job_id, parsed.name)
        fd = open_below(self.artifacts_root, parts, f"artefact {parsed.name}")
        with os.fdopen(fd, "rb") as src:
            return src.read()

    def remove_job_artifacts(self, org_id: str, job_id: str) -> None:
        if is_id(org_id) and is_id(job_id):
            shutil.rmtree(self.artifacts_root / org_id / job_id, ignore_errors=True)


class LocalSink:
    """One file of a request: ``.incoming/<random>.part`` until it is committed."""

    buffered = 0  # written straight to disk

    def __init__(self, root: Path, org_id: str, name: str) -> None:
        self._root, self._org_id, self._name = root, org_id, name
        incoming = root / INCOMING_DIR
        incoming.mkdir(parents=True, exist_ok=True)
        self.part = incoming / f"{uuid.uuid4().hex}.part"
        self._file: BinaryIO | None = self.part.open("xb")
        self._sha256 = ""
        self._final: Path | None = None

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise RuntimeError("write() after close()")
        self._file.write(chunk)

    def close(self, sha256: str) -> None:
        self._close()
        self._sha256 = sha256

    def commit(self) -> str:
        if self._final is None:
            upload_id = uuid.uuid4().hex
            final = self._root / self._org_id / upload_id
            final.mkdir(parents=True)
            self._final = final
            (final / SIDECAR).write_text(f"{self._sha256}  {self._name}\n")
            self.part.rename(final / self._name)
        return f"{self._org_id}/{self._final.name}/{self._name}"

    def remove(self) -> None:
        self._close()
        self.part.unlink(missing_ok=True)
        if self._final is not None:
            shutil.rmtree(self._final, ignore_errors=True)
            self._final = None

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
