"""Uploads and artefacts in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, Ceph …).

Keys: ``<prefix>uploads/<org>/<upload id>/<name>`` with its SHA-256 in a small sidecar object
``<key>.sha256`` (a multipart upload cannot carry a whole-object SHA-256 known up front), and
``<prefix>artifacts/<org>/<job>/<name>``.

An upload streams: a file smaller than one part (8 MiB) is one ``put_object``; a larger one is
a multipart upload sent part by part, so at most one part buffer per file is in memory. Each
object is written straight to its final key; nobody knows the key before ``commit`` returns,
and a discarded request aborts its open multipart uploads and deletes what it completed.

Every call has connect and read timeouts of a few seconds and a bounded number of attempts;
driver errors become StorageError (transient) or StoredObjectMissing, whose messages name
neither hosts nor keys. The health probe is one ``head_bucket`` with no retry.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kickflow.config import Settings
from kickflow.errors import StorageError, StoredObjectMissing, UnsafeConfiguration
from kickflow.storage.base import CHUNK, Health, OnBytes, StoredObject, fetch_verified, is_sha256
from kickflow.storage.batch import UploadBatch
from kickflow.storage.names import (
    SIDECAR_SUFFIX,
    artifact_key,
    is_id,
    parse_artifact_key,
    parse_ref,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 8 * 1024 * 1024
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 15.0
ATTEMPTS = 3  # the first try and two retries (botocore's standard mode: backoff with jitter)
PROBE_CONNECT_TIMEOUT_S = 2.0
PROBE_READ_TIMEOUT_S = 3.0
MISSING_CODES = {"NoSuchKey", "NotFound", "404"}
REFUSED_CODES = {"AccessDenied", "Forbidden", "403", "SignatureDoesNotMatch", "InvalidAccessKeyId"}
CREDENTIALS = "KICKFLOW_S3_ACCESS_KEY_ID, KICKFLOW_S3_SECRET_ACCESS_KEY"
log = logging.getLogger("kickflow.storage")


@dataclass(frozen=True)
class S3Config:
    """Where the bucket is and how to sign requests to it."""

    bucket: str
    prefix: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Config:
        if not settings.s3_bucket:
            raise UnsafeConfiguration(
                "KICKFLOW_STORAGE is s3 but KICKFLOW_S3_BUCKET is empty: set the bucket name"
            )
        prefix = settings.s3_prefix.strip("/")
        return cls(
            bucket=settings.s3_bucket,
            prefix=f"{prefix}/" if prefix else "",
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )


def make_client(config: S3Config, connect: float, read: float, attempts: int) -> S3Client:
    """A client with bounded timeouts and attempts (path-style addressing off AWS)."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "connect_timeout": connect,
        "read_timeout": read,
        "retries": {"mode": "standard", "total_max_attempts": attempts},
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path" if config.endpoint_url else "auto"},
    }
    if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
        # Our own SHA-256 covers the content; extra trailing checksums are what some
        # S3-compatible servers still refuse.
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return boto3.session.Session().client(
        "s3",
        endpoint_url=config.endpoint_url or None,
        region_name=config.region or None,
        aws_access_key_id=config.access_key_id or None,
        aws_secret_access_key=config.secret_access_key or None,
        config=Config(**options),
    )


# --- errors ---------------------------------------------------------------------------------


def _error_code(exc: BaseException | None) -> tuple[str, int]:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code, int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _unreachable(exc: Exception) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return "timed out"
    if name == "NoCredentialsError":
        return f"no credentials: set {CREDENTIALS}"
    return "connection failed"


def _probe_problem(exc: Exception) -> str:
    code, status = _error_code(exc)
    if not (code or status):
        return f"object storage unreachable: {_unreachable(exc)} (KICKFLOW_S3_ENDPOINT_URL)"
    if status == 404 or code in MISSING_CODES | {"NoSuchBucket"}:
        return "the bucket does not exist: create it (KICKFLOW_S3_BUCKET)"
    if status == 403 or code in REFUSED_CODES:
        return f"the object storage refused the credentials ({CREDENTIALS})"
    return f"the object storage answered {code or status}"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Driver errors as StorageError / StoredObjectMissing about ``what`` (full text logged)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code, status = _error_code(exc)
        log.warning("object storage: %s: %s", what, exc)
        if code in MISSING_CODES:
            raise StoredObjectMissing(f"{what}: the stored file is missing") from exc
        if code == "NoSuchBucket":
            raise StorageError(f"{what}: the bucket does not exist (KICKFLOW_S3_BUCKET)") from exc
        if code in REFUSED_CODES:
            raise StorageError(f"{what}: the object storage refused the credentials") from exc
        raise StorageError(f"{what}: the object storage answered {code or status}") from exc
    except BotoCoreError as exc:
        log.warning("object storage: %s: %s", what, exc)
        raise StorageError(
            f"{what}: the object storage cannot be reached ({_unreachable(exc)}); try again later"
        ) from exc


def _quietly(what: str, call: Any, **kwargs: Any) -> bool:
    """A clean-up call whose failure is logged, never raised (it runs in error paths); False
    when the object storage could not be reached, so the caller skips the rest."""
    from botocore.exceptions import BotoCoreError

    try:
        with translated(what):
            call(**kwargs)
    except StorageError as exc:
        log.warning("object storage clean-up failed: %s", exc.message)
        return not isinstance(exc.__cause__, BotoCoreError)
    return True


# --- the storage ----------------------------------------------------------------------------


class S3Storage:
    """Uploads and artefacts in one bucket, under one key prefix."""

    kind = "s3"

    def __init__(
        self, config: S3Config, max_request_bytes: int, *, part_size: int = PART_SIZE
    ) -> None:
        self.config = config
        self.bucket = config.bucket
        self.max_request_bytes = max_request_bytes
        self.part_size = part_size
        self.client = make_client(config, CONNECT_TIMEOUT_S, READ_TIMEOUT_S, ATTEMPTS)
        self._probe = make_client(config, PROBE_CONNECT_TIMEOUT_S, PROBE_READ_TIMEOUT_S, 1)

    def upload_key(self, ref: str) -> str:
        return f"{self.config.prefix}uploads/{ref}"

    # --- uploads ------------------------------------------------------------------------

    def batch(self, org_id: str, *, max_files: int | None = None) -> UploadBatch:
        if not is_id(org_id):
            raise ValueError(f"invalid organisation id {org_id!r}")
        return UploadBatch(self._sink, org_id, self.max_request_bytes, max_files)

    def _sink(self, org_id: str, name: str) -> S3Sink:
        return S3Sink(self, f"{org_id}/{uuid.uuid4().hex}/{name}")

    def stat(self, ref: str) -> StoredObject:
        parse_ref(ref)
        key = self.upload_key(ref)
        with translated(f"upload {ref}"):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        sha256 = self._sidecar(ref) or self._remember_digest(ref)
        return StoredObject(ref, int(head["ContentLength"]), sha256)

    def read(self, ref: str, start: int = 0, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The object's bytes from offset ``start`` (requested now: a missing object raises
        here); nothing when ``start`` is at or past the end."""
        if start < 0:
            raise ValueError("start must not be negative")
        parse_ref(ref)
        key = self.upload_key(ref)
        try:
            with translated(f"upload {ref}"):
                if start:
                    reply = self.client.get_object(
                        Bucket=self.bucket, Key=key, Range=f"bytes={start}-"
                    )
                else:
                    reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except StorageError as exc:
            if start and _error_code(exc.__cause__)[0] == "InvalidRange":
                return iter(())
            raise
        return _chunks(reply["Body"], chunk_size, f"upload {ref}")

    def presigned_url(self, ref: str, expires_seconds: float) -> str | None:
        """A GET URL for the object, valid ``expires_seconds`` (signed here, no request)."""
        parse_ref(ref)
        params = {"Bucket": self.bucket, "Key": self.upload_key(ref)}
        with translated(f"upload {ref}"):
            return self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=max(1, int(expires_seconds))
            )

    def local_path(self, ref: str) -> Path | None:
        return None

    def fetch(self, ref: str, dest_dir: Path, on_bytes: OnBytes) -> Path:
        return fetch_verified(self, ref, dest_dir, on_bytes)

    def remove(self, ref: str) -> bool:
        """Delete the object and its sidecar; False when there is no such upload."""
        try:
            self.stat_size(ref)
        except StoredObjectMissing:
            return False
        key = self.upload_key(ref)
        with translated(f"upload {ref}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
            self.client.delete_object(Bucket=self.bucket, Key=key + SIDECAR_SUFFIX)
        return True

    def stat_size(self, ref: str) -> int:
        """The object's size (one HEAD request, no checksum)."""
        parse_ref(ref)
        with translated(f"upload {ref}"):
            head = self.client.head_object(Bucket=self.bucket, Key=self.upload_key(ref))
        return int(head["ContentLength"])

    def health(self) -> Health:
        """One ``head_bucket`` (no retry, timeouts of a few seconds)."""
        from botocore.exceptions import BotoCoreError, ClientError

        details: dict[str, Any] = {"kind": self.kind}
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            log.warning("object storage health: %s", exc)
            return "error", _probe_problem(exc), details
        return "ok", "bucket reachable", details

    def _sidecar(self, ref: str) -> str | None:
        try:
            with translated(f"upload {ref}"):
                reply = self.client.get_object(
                    Bucket=self.bucket, Key=self.upload_key(ref) + SIDECAR_SUFFIX
                )
                words = reply["Body"].read(4096).decode("ascii", "replace").split()
        except StoredObjectMissing:
            return None
        return words[0] if words and is_sha256(words[0]) else None

    def _remember_digest(self, ref: str) -> str:
        """The SHA-256 of an object stored without a sidecar, now kept in one."""
        digest = hashlib.sha256()
        for chunk in self.read(ref):
            digest.update(chunk)
        with translated(f"upload {ref}"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.upload_key(ref) + SIDECAR_SUFFIX,
                Body=digest.hexdigest().encode(),
            )
        return digest.hexdigest()

    # --- artefacts ----------------------------------------------------------------------

    def put_artifact(self, org_id: str, job_id: str, name: str, data: bytes) -> str:
        key = str(artifact_key(org_id, job_id, name))
        with translated(f"artefact {name}"):
            self.client.put_object(Bucket=self.bucket, Key=self.config.prefix + key, Body=data)
        return key

    def read_artifact(self, key: str) -> bytes:
        parsed = parse_artifact_key(key)
        with translated(f"artefact {parsed.name}"):
            reply = self.client.get_object(Bucket=self.bucket, Key=self.config.prefix + key)
            return reply["Body"].read()

    def remove_job_artifacts(self, org_id: str, job_id: str) -> None:
        if not (is_id(org_id) and is_id(job_id)):
            return
        prefix = f"{self.config.prefix}artifacts/{org_id}/{job_id}/"
        with translated("artefacts"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    self.client.delete_object(Bucket=self.bucket, Key=item["Key"])


def _chunks(body: StreamingBody, chunk_size: int, what: str) -> Iterator[bytes]:
    try:
        with translated(what):
            yield from body.iter_chunks(chunk_size)
    finally:
        body.close()


@lru_cache(maxsize=8)
def shared_storage(config: S3Config, max_request_bytes: int) -> S3Storage:
    """One storage (and its connection pool) per configuration and process."""
    return S3Storage(config, max_request_bytes)


# --- one file of an upload request ----------------------------------------------------------


class S3Sink:
    """One file streamed to its final key: one put_object, or a multipart upload."""

    def __init__(self, storage: S3Storage, ref: str) -> None:
        self._s3 = storage
        self.ref = ref
        self.key = storage.upload_key(ref)
        self._buffer = bytearray()
        self._upload_id: str | None = None  # an open multipart upload
        self._parts: list[CompletedPartTypeDef] = []
        self._touched = False  # a request that may have created the object was sent
        self.parts_sent = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def write(self, chunk: bytes) -> None:
        view, size = memoryview(chunk), self._s3.part_size
        while view:
            if len(self._buffer) == size:  # only sent once more bytes arrive: the last
                self._send_part()  # part is never empty
            room = size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]

    def _body(self) -> bytes:
        # botocore sends a bytearray as it is (the stubs say bytes): no copy of the part.
        return cast(bytes, self._buffer)

    def _send_part(self) -> None:
        client, bucket = self._s3.client, self._s3.bucket
        with translated("upload storage"):
            if self._upload_id is None:
                self._touched = True
                created = client.create_multipart_upload(Bucket=bucket, Key=self.key)
                self._upload_id = created["UploadId"]
            number = len(self._parts) + 1
            sent = client.upload_part(
                Bucket=bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=self._body(),
            )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})
        self.parts_sent += 1
        self._buffer.clear()

    def close(self, sha256: str) -> None:
        client, bucket = self._s3.client, self._s3.bucket
        self._touched = True
        with translated("upload storage"):
            if self._upload_id is None:
                client.put_object(Bucket=bucket, Key=self.key, Body=self._body())
            else:
                self._send_part()
                client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self._upload_id = None
            self._buffer = bytearray()
            client.put_object(Bucket=bucket, Key=self.key + SIDECAR_SUFFIX, Body=sha256.encode())

    def commit(self) -> str:
        return self.ref  # already at its final key

    def remove(self) -> None:
        client, bucket = self._s3.client, self._s3.bucket
        self._buffer = bytearray()
        reachable = True
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            reachable = _quietly(
                "abort upload", client.abort_multipart_upload, Bucket=bucket, Key=self.key,
                UploadId=upload_id,
            )  # fmt: skip
        if self._touched and reachable:  # deleting a key that was never written is harmless
            self._touched = False
            for key in (self.key, self.key + SIDECAR_SUFFIX):
                reachable = reachable and _quietly(
                    "delete upload", client.delete_object, Bucket=bucket, Key=key
                )
        if not reachable:
            log.warning("upload %s may be left in the bucket (unreachable)", self.ref)
