"""Streamed multipart uploads: each file part goes straight to upload storage as it arrives.

Starlette's own form parser spools whole files to a temporary file before the route runs; this
one validates the file name (and the number of files) from the part headers before writing a
byte, counts bytes against the limit while they arrive, and looks at each file's first bytes:
a text file, a playlist or a still image is refused there (415, one sentence) instead of
becoming a job that fails on a worker. A file part without a file name (what a browser sends
for a file input left empty) is skipped. A client that disconnects mid-way
is logged as one INFO line, not as an error: the batch is discarded like any refused request.

Subtitle files come in the same request, in the field ``subtitles`` (repeatable): they go to a
batch of their own (:class:`SubtitleIntake`; they never count against
KICKFLOW_MAX_FILES_PER_UPLOAD), each capped at KICKFLOW_MAX_SUBTITLE_MB while it arrives and
checked by the timed-text loader when its part ends, so a bad one refuses the request before
any job exists. How they pair with the media files: :mod:`kickflow.jobs.sidecars`.

The batch is synchronous (with S3 its writes are network calls): the parser runs in a worker
thread, and so does the discarding of a refused request, shielded from cancellation so that a
client that goes away cannot leave stored parts behind.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio
from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from kickflow.config import Settings
from kickflow.errors import (
    PlaylistRefused,
    RequestInvalid,
    StorageError,
    SubtitleRefused,
    UploadNotMedia,
)
from kickflow.jobs import sidecars
from kickflow.jobs.models import Job
from kickflow.media.formats import refusal_for
from kickflow.media.inputs import SNIFF_BYTES, content_refusal, image_format
from kickflow.storage import Storage, UploadBatch

FILE_FIELD = "file"
SUBTITLE_FIELD = "subtitles"
MAX_FIELD_BYTES = 4096
NO_FILES = "file: at least one file is required"
SKIPPED = "\x00skipped"  # the field of a part that is read and dropped (an empty file input)
FieldsCheck = Callable[[dict[str, str]], None]
log = logging.getLogger("kickflow.api.uploads")


@dataclass
class UploadForm:
    """The non-file fields of the form and the names of the files received."""

    fields: dict[str, str] = field(default_factory=dict)
    file_names: list[str] = field(default_factory=list)
    subtitle_names: list[str] = field(default_factory=list)


class SubtitleIntake:
    """The subtitle file parts of one upload request: stored in their own ``batch`` and
    copied to a scratch file for the loader's check (deleted by :meth:`close`). At most
    ``KICKFLOW_MAX_SUBTITLE_FILES`` per media file the request may carry."""

    def __init__(self, batch: UploadBatch, settings: Settings) -> None:
        self.batch = batch
        self.settings = settings
        self.limit = sidecars.max_bytes(settings)
        self.max_count = settings.max_subtitle_files * max(1, settings.max_files_per_upload)
        self.names: list[str] = []
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._copy: BinaryIO | None = None
        self._size = 0

    def start(self, name: str) -> None:
        if len(self.names) >= self.max_count:
            sidecars.check_count(len(self.names) + 1, self.settings)
            raise SubtitleRefused(f"more than {self.max_count} subtitle files in one request.")
        self.batch.start_file(name)
        self.names.append(name)
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="kickflow-subtitles-")
        self._copy = self._scratch_path().open("wb")
        self._size = 0

    def _scratch_path(self) -> Path:
        assert self._scratch is not None
        return Path(self._scratch.name) / str(len(self.names))

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.limit:
            raise SubtitleRefused(sidecars.too_big_message(self.names[-1], self._size, self.limit))
        assert self._copy is not None
        self._copy.write(data)
        self.batch.write(data)

    def finish(self) -> None:
        """The part ended: the loader checks the whole file before the batch keeps it."""
        assert self._copy is not None
        self._copy.close()
        self._copy = None
        sidecars.check_file(self._scratch_path(), self.names[-1], self.settings)
        self.batch.finish_file()

    def close(self) -> None:
        if self._copy is not None:
            self._copy.close()
            self._copy = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def not_media(name: str, head: bytes) -> UploadNotMedia | None:
    """Why an upload whose first bytes are ``head`` is refused, or None: the worker's probe
    still decides about everything else.

    Playlists and still images always; text only when it has words or lines (a space or a
    line break): a run of printable bytes without either may be headerless audio, which a
    profile can allow, so that one is left to the worker."""
    refusal = content_refusal(name, head)
    if isinstance(refusal, PlaylistRefused) or (refusal is not None and _has_words(head)):
        return UploadNotMedia(refusal.message)
    image = image_format(head)
    return UploadNotMedia(refusal_for(image, name)) if image else None


def _has_words(head: bytes) -> bool:
    return b" " in head or b"\n" in head


class _Receiver:
    """Callbacks for python-multipart's streaming parser."""

    def __init__(
        self,
        batch: UploadBatch,
        before_files: FieldsCheck | None,
        subtitles: SubtitleIntake | None,
    ) -> None:
        self.batch = batch
        self.before_files = before_files
        self.subtitles = subtitles
        self.form = UploadForm()
        self._head = bytearray()
        self._sniffed = False
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
            if not filename:
                self._field = SKIPPED
                return
            self._check_fields_first()
            decoded = _decode(filename, "file name")
            self.batch.start_file(decoded)
            self.form.file_names.append(decoded)
            self._head.clear()
            self._sniffed = False
        elif name == SUBTITLE_FIELD and filename is not None and self.subtitles is not None:
            if not filename:
                self._field = SKIPPED
                return
            self._check_fields_first()
            self.subtitles.start(_decode(filename, "subtitle file name"))
        elif filename is not None:
            raise RequestInvalid(
                f"{name or 'unnamed part'}: files go in the field 'file' "
                "(subtitle files in 'subtitles')"
            )
        self._field = name

    def _check_fields_first(self) -> None:
        """``before_files`` runs before the first file of either kind is stored."""
        started = bool(self.form.file_names) or bool(self.subtitles and self.subtitles.names)
        if self.before_files is not None and not started:
            self.before_files(self.form.fields)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field == SKIPPED:
            return
        if self._field == SUBTITLE_FIELD and self.subtitles is not None:
            self.subtitles.write(data[start:end])
            return
        if self._field == FILE_FIELD:
            self.batch.write(data[start:end])
            if not self._sniffed:
                self._head += data[start : min(end, start + SNIFF_BYTES - len(self._head))]
                if len(self._head) >= SNIFF_BYTES:
                    self._sniff()
            return
        self._value += data[start:end]
        if len(self._value) > MAX_FIELD_BYTES:
            raise RequestInvalid(f"{self._field}: value longer than {MAX_FIELD_BYTES} bytes")

    def _sniff(self) -> None:
        self._sniffed = True
        refusal = not_media(self.form.file_names[-1], bytes(self._head))
        if refusal is not None:
            raise refusal

    def on_part_end(self) -> None:
        if self._field == SKIPPED:
            return
        if self._field == SUBTITLE_FIELD and self.subtitles is not None:
            self.subtitles.finish()
            return
        if self._field == FILE_FIELD:
            self.batch.finish_file()  # an empty file is refused here, before the sniff
            if not self._sniffed:
                self._sniff()
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


async def receive(
    request: Request,
    batch: UploadBatch,
    before_files: FieldsCheck | None = None,
    subtitles: SubtitleIntake | None = None,
) -> UploadForm:
    """Stream the request's multipart body into ``batch`` (subtitle files into
    ``subtitles``; without it a ``subtitles`` file part is refused); returns the other form
    fields. ``before_files(fields)`` runs once: before the first file is written, with the
    fields sent before it (a form's CSRF token, which pages put first), or at the end when
    there is no file; it may raise to refuse."""
    receiver = _Receiver(batch, before_files, subtitles)
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
        if before_files is not None:
            before_files(receiver.form.fields)  # it runs once, files or not
        raise RequestInvalid(NO_FILES)
    receiver.form.subtitle_names = list(subtitles.names) if subtitles else []
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
    for sidecar in job.inputs.subtitles:
        if sidecar.source_type == "upload":
            remove_upload(storage, sidecar.source_ref)
    try:
        storage.remove_job_artifacts(job.org_id, job.id)
    except StorageError as exc:
        log.warning("artefacts of job %s left in storage: %s", job.id, exc.message)
