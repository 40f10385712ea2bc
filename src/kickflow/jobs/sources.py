"""Where a job's file comes from. A source type is a small object registered by name; the
worker only calls ``inspect`` and ``fetch``, so URL and Google Drive sources drop in later.

Types now: ``path`` (a local file under ``KICKFLOW_ALLOWED_ROOTS``) and ``upload`` (a file in
the service's own storage, ``KICKFLOW_DATA_DIR/uploads/<ref>``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from kickflow.config import Settings
from kickflow.errors import (
    InputNotAFile,
    InputNotFound,
    InputUnreadable,
    SourceNotAllowed,
    UnsupportedSource,
)

CHUNK = 1024 * 1024
OnBytes = Callable[[int, int | None], None]


@dataclass(frozen=True)
class SourceInfo:
    """What a source says about its file before fetching it."""

    file_name: str
    size: int | None


class Source(Protocol):
    """One source type: check a reference, then copy its bytes into a job's directory."""

    kind: str

    def inspect(self, ref: str, settings: Settings) -> SourceInfo:
        """Validate ``ref`` (raises a SourceError/InputError subclass) and describe the file."""
        ...

    def fetch(self, ref: str, dest_dir: Path, settings: Settings, on_bytes: OnBytes) -> Path:
        """Copy the file into ``dest_dir``; ``on_bytes(done, total)`` may raise to abort."""
        ...


_REGISTRY: dict[str, Source] = {}


def register(source: Source) -> None:
    """Make a source type available by its ``kind``."""
    _REGISTRY[source.kind] = source


def get_source(kind: str) -> Source:
    try:
        return _REGISTRY[kind]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnsupportedSource(f"unsupported source type {kind!r} (supported: {known})") from None


def inspect(kind: str, ref: str, settings: Settings) -> SourceInfo:
    """Validate a source before it is queued."""
    return get_source(kind).inspect(ref, settings)


def copy_stream(src: BinaryIO, dest: Path, total: int | None, on_bytes: OnBytes) -> Path:
    """Copy ``src`` to ``dest`` in chunks, reporting bytes copied."""
    done = 0
    with dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            on_bytes(done, total)
    return dest


def _regular_file(path: Path, shown: str) -> SourceInfo:
    if not path.exists():
        raise InputNotFound(f"file not found: {shown}")
    if not path.is_file():
        raise InputNotAFile(f"not a regular file: {shown}")
    return SourceInfo(path.name, path.stat().st_size)


def _copy_file(path: Path, dest_dir: Path, on_bytes: OnBytes) -> Path:
    try:
        with path.open("rb") as src:
            return copy_stream(src, dest_dir / path.name, path.stat().st_size, on_bytes)
    except FileNotFoundError as exc:
        raise InputNotFound(f"file not found: {path}") from exc
    except PermissionError as exc:
        raise InputUnreadable(f"permission denied reading {path}") from exc


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class PathSource:
    """A file on a local disk the workers can read, under one of the allowed roots."""

    kind = "path"

    def resolve(self, ref: str, settings: Settings) -> Path:
        if "\x00" in ref or not ref.strip():
            raise InputNotFound("invalid path")
        roots = settings.allowed_root_paths()
        if not roots:
            raise SourceNotAllowed(
                "path sources are disabled: set KICKFLOW_ALLOWED_ROOTS to the directories "
                "workers may read"
            )
        path = Path(ref).expanduser().resolve()
        if not any(_inside(path, root) for root in roots):
            shown = ", ".join(str(r) for r in roots)
            raise SourceNotAllowed(f"{ref} is outside the allowed roots ({shown})")
        return path

    def inspect(self, ref: str, settings: Settings) -> SourceInfo:
        return _regular_file(self.resolve(ref, settings), ref)

    def fetch(self, ref: str, dest_dir: Path, settings: Settings, on_bytes: OnBytes) -> Path:
        path = self.resolve(ref, settings)
        _regular_file(path, ref)
        return _copy_file(path, dest_dir, on_bytes)


def uploads_dir(settings: Settings) -> Path:
    """Where uploaded files are stored; an ``upload`` reference is relative to it."""
    return (settings.data_dir / "uploads").resolve()


class UploadSource:
    """A file in the service's own storage (written by the upload endpoint)."""

    kind = "upload"

    def resolve(self, ref: str, settings: Settings) -> Path:
        root = uploads_dir(settings)
        if "\x00" in ref or not ref.strip() or Path(ref).is_absolute():
            raise SourceNotAllowed("invalid upload reference")
        path = (root / ref).resolve()
        if not _inside(path, root) or path == root:
            raise SourceNotAllowed("invalid upload reference: outside the upload storage")
        return path

    def inspect(self, ref: str, settings: Settings) -> SourceInfo:
        return _regular_file(self.resolve(ref, settings), f"upload {ref}")

    def fetch(self, ref: str, dest_dir: Path, settings: Settings, on_bytes: OnBytes) -> Path:
        path = self.resolve(ref, settings)
        _regular_file(path, f"upload {ref}")
        return _copy_file(path, dest_dir, on_bytes)


register(PathSource())
register(UploadSource())
