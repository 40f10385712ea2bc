"""Streamed multipart uploads: each file part goes straight to upload storage as it arrives.

Starlette's own form parser spools whole files to a temporary file before the route runs; this
one validates the file name (and the number of files) from the part headers before writing a
byte, and counts bytes against the limit while they arrive. A client that disconnects mid-way
is logged as one INFO line, not as an error: the batch is discarded like any refused request.

The batch is synchronous (with S3 its writes are network calls): the parser runs in a worker
thread, and so does the discarding of a refused request, shielded from cancellation so that a
client that goes away cannot leave stored parts behind.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from kickflow.errors import RequestInvalid, StorageError
from kickflow.jobs.models import Job
from kickflow.storage import Storage, UploadBatch

FILE_FIELD = "file"
MAX_FIELD_BYTES = 4096
log = logging.getLogger("kickflow.api.uploads")


@dataclass
class UploadForm:
    """The non-file fields of the form and the names of the files received."""

    fields: dict[str, str] = field(default_factory=dict)
    file_names: list[str] = field(default_factory=list)


class _Receiver:
    """Callbacks for python-multipart's streaming parser."""

    def __init__(self, batch: UploadBatch) -> None:
        self.batch = batch
        self.form = UploadForm()
        self._headers: dict[bytes, bytes] = {}
        self._hname = b""
        self._hvalue = b""
        self._field: str | None = None
        self._value = bytearray()

    def on_part_begin(self) -> None:
        self._headers.clear()
        self._field = None
        self._value.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._hname.strip().lower()] = self._hvalue.strip()
        self._hname, self._hvalue = b"", b""

    def on_headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        name = _decode(params.get(b"name", b""), "field name")
        filename = params.get(b"filename")
        if name == FILE_FIELD:
            if filename is None:
                raise RequestInvalid("file: each file part needs a filename")
            decoded = _decode(filename, "file name")
            self.batch.start_file(decoded)
            self.form.file_names.append(decoded)
        elif filename is not None:
            raise RequestInvalid(f"{name or 'unnamed part'}: files go in the field 'file'")
        self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field == FILE_FIELD:
            self.batch.write(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise RequestInvalid(f"{self._field}: value longer than {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self._field == FILE_FIELD:
            self.batch.finish_file()
        elif self._field is not None:
            if self._field in self.form.fields:
                raise RequestInvalid(f"{self._field}: given more than once")
            self.form.fields[self._field] = _decode(bytes(self._value), self._field)


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestInvalid(f"{what} is not valid UTF-8") from None


def _boundary(content_type: str) -> bytes:
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise RequestInvalid("multipart body without a boundary in its Content-Type")
    return boundary


async def receive(request: Request, batch: UploadBatch) -> UploadForm:
    """Stream the request's multipart body into ``batch``; returns the other form fields."""
    receiver = _Receiver(batch)
    callbacks = {
        name: getattr(receiver, name)
        for name in dir(receiver)
        if name.startswith("on_") and callable(getattr(receiver, name))
    }
    parser = MultipartParser(_boundary(request.headers.get("content-type", "")), callbacks)  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            if chunk:
                received += len(chunk)
                await anyio.to_thread.run_sync(parser.write, chunk)
        await anyio.to_thread.run_sync(parser.finalize)
    except ClientDisconnect:
        # Nobody is left to answer; the caller's batch removes what arrived.
        log.info("upload aborted: client disconnected after %d bytes", received)
        raise RequestInvalid("upload aborted: the client disconnected") from None
    except (ValueError, RuntimeError) as exc:  # the parser's MultipartParseError is a ValueError
        raise RequestInvalid(f"malformed multipart body: {exc}") from exc
    if not receiver.form.file_names:
        raise RequestInvalid("file: at least one file is required")
    return receiver.form


@asynccontextmanager
async def batch(storage: Storage, org_id: str, max_files: int | None) -> AsyncIterator[UploadBatch]:
    """A new upload batch, discarded in a worker thread if anything in the block fails."""
    new = storage.batch(org_id, max_files=max_files)
    try:
        yield new
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(new.discard)
        raise


def remove_upload(storage: Storage, ref: str) -> None:
    """Delete a stored upload nobody needs; a storage failure only leaves it behind (logged)."""
    try:
        storage.remove(ref)
    except StorageError as exc:
        log.warning("upload %s left in storage: %s", ref, exc.message)


def remove_job_files(storage: Storage, job: Job) -> None:
    """A deleted job's upload and artefacts (the job itself is gone: failures are logged)."""
    if job.source_type == "upload":
        remove_upload(storage, job.source_ref)
    try:
        storage.remove_job_artifacts(job.org_id, job.id)
    except StorageError as exc:
        log.warning("artefacts of job %s left in storage: %s", job.id, exc.message)
