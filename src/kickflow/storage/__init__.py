"""Where uploads and artefacts are kept, behind one port: :class:`Storage`.

Two backends: the data directory (``KICKFLOW_STORAGE=local``, :mod:`kickflow.storage.local`)
and an S3-compatible bucket (``s3``, :mod:`kickflow.storage.s3`). The service must not assume
an upload is on its own disk: workers on other machines get it streamed from the service
(``read``) or, with S3, from a presigned URL; direct-database workers ``fetch`` it.

An upload request streams into a :class:`UploadBatch` (never whole in memory, SHA-256 computed
on the way) and is committed or removed as a whole: a refused request leaves nothing behind.
Each stored file gets an upload reference ``<org>/<upload id>/<name>``, the job's
``source_ref``.

::

    storage = open_storage(settings)
    with storage.batch(org_id, max_files=20) as batch:    # discarded on any exception
        batch.start_file("episode.mxf"); batch.write(chunk); batch.finish_file()
        stored = batch.commit()                           # [StoredUpload(name, ref, size, sha256)]
    storage.stat(ref) -> StoredObject(ref, size, sha256)  # StoredObjectMissing / StorageError
    storage.read(ref, start=0) -> Iterator[bytes]         # from a byte offset (Range requests)
    storage.presigned_url(ref, seconds) -> str | None     # S3 only
    storage.local_path(ref) -> Path | None                # local only
    storage.fetch(ref, dest_dir, on_bytes) -> Path        # verified copy (ChecksumMismatch)
    storage.remove(ref) -> bool    storage.health() -> (status, message, details)
    storage.put_artifact(org, job, name, data) -> key   read_artifact(key)   remove_job_artifacts
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from kickflow.config import Settings
from kickflow.storage.base import CHUNK, Health, OnBytes, StoredObject
from kickflow.storage.batch import StoredUpload, UploadBatch
from kickflow.storage.local import INCOMING_DIR, UPLOADS_DIR, LocalStorage
from kickflow.storage.names import MAX_NAME_BYTES, parse_ref, safe_file_name

__all__ = [
    "CHUNK",
    "INCOMING_DIR",
    "MAX_NAME_BYTES",
    "UPLOADS_DIR",
    "Health",
    "LocalStorage",
    "OnBytes",
    "Storage",
    "StoredObject",
    "StoredUpload",
    "UploadBatch",
    "UploadStorage",
    "open_storage",
    "parse_ref",
    "safe_file_name",
    "upload_limit_bytes",
]

UploadStorage = LocalStorage  # the name the local backend had before the port existed


class Storage(Protocol):
    """Uploads and artefacts, wherever they are kept."""

    kind: str  # "local" | "s3"

    def batch(self, org_id: str, *, max_files: int | None = None) -> UploadBatch:
        """A new upload request for ``org_id``; use it as a context manager."""
        ...

    def stat(self, ref: str) -> StoredObject:
        """Size and SHA-256 of a stored upload."""
        ...

    def read(self, ref: str, start: int = 0, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The upload's bytes from offset ``start``, streamed."""
        ...

    def presigned_url(self, ref: str, expires_seconds: float) -> str | None:
        """A GET URL workers can download from directly (None: the backend has none)."""
        ...

    def local_path(self, ref: str) -> Path | None:
        """The upload as a file on this machine (None: it is not on this machine)."""
        ...

    def fetch(self, ref: str, dest_dir: Path, on_bytes: OnBytes) -> Path:
        """Copy the upload into ``dest_dir``, checking its SHA-256."""
        ...

    def remove(self, ref: str) -> bool:
        """Delete a stored upload; False when there was none."""
        ...

    def health(self) -> Health:
        """(ok|warning|error, message, details) for ``/api/health/full``; never hangs."""
        ...

    def put_artifact(self, org_id: str, job_id: str, name: str, data: bytes) -> str:
        """Store a job's artefact; returns its key."""
        ...

    def read_artifact(self, key: str) -> bytes: ...

    def remove_job_artifacts(self, org_id: str, job_id: str) -> None: ...


def upload_limit_bytes(settings: Settings) -> int:
    """The most bytes one upload request may carry (KICKFLOW_MAX_UPLOAD_MB)."""
    return settings.max_upload_mb * 1024 * 1024


def open_storage(settings: Settings) -> Storage:
    """The storage the settings name (an S3 storage is shared per process and bucket)."""
    if settings.storage == "s3":
        from kickflow.storage.s3 import S3Config, shared_storage

        return shared_storage(S3Config.from_settings(settings), upload_limit_bytes(settings))
    return LocalStorage(settings.data_dir, upload_limit_bytes(settings))
