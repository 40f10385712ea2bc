"""Where a job's file comes from. A source type is a small object registered by name; the
worker only calls ``inspect`` and ``fetch``, so URL and Google Drive sources drop in later.

Types now: ``path`` (a local file under ``KICKFLOW_ALLOWED_ROOTS``) and ``upload`` (a file in
the service's own storage: ``KICKFLOW_DATA_DIR/uploads/<ref>``, or with ``KICKFLOW_STORAGE=s3``
the bucket, fetched through the storage port with its SHA-256 checked).

Files are opened once, by walking from the root with directory descriptors and ``O_NOFOLLOW``
on every component, and copied from that descriptor. Resolving a path, checking it and then
opening it by name again lets a symbolic link swapped in between point anywhere; walking
descriptors leaves no such window. Messages name the path as the caller gave it, never a
resolved server path.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from kickflow.config import Settings
from kickflow.errors import (
    InputError,
    InputNotAFile,
    InputNotFound,
    InputUnreadable,
    SourceNotAllowed,
    SymlinkRefused,
    UnsafeConfiguration,
    UnsupportedSource,
)
from kickflow.storage import open_storage, parse_ref

CHUNK = 1024 * 1024
OnBytes = Callable[[int, int | None], None]
log = logging.getLogger("kickflow.sources")

# The root itself is followed (the operator configured it, symbolic link or not); nothing
# below it is. O_NONBLOCK: opening a FIFO must not wait for a writer.
ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


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


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


# --- the start-up check ---------------------------------------------------------------------


def check_data_dir_outside_roots(settings: Settings) -> None:
    """Refuse settings where the data directory and an allowed root overlap: a path job could
    then read the service's database and every organisation's uploads."""
    data = settings.data_dir.resolve()
    for root in settings.allowed_root_paths():
        if _inside(data, root) or _inside(root, data):
            raise UnsafeConfiguration(
                f"KICKFLOW_DATA_DIR ({data}) and the allowed root {root} (KICKFLOW_ALLOWED_ROOTS) "
                "overlap: path jobs could read the database and other organisations' uploads, "
                "so move one out of the other."
            )


# --- opening a file below a root, once ------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A regular file opened below a root: its descriptor (the caller closes it) and size."""

    fd: int
    name: str
    size: int


@dataclass(frozen=True)
class Walk:
    """What to open: ``parts`` below the real directory ``root``; ``shown`` names it in
    messages; directories whose (device, inode) is in ``avoid`` must not be walked through."""

    root: Path
    parts: tuple[str, ...]
    shown: str
    avoid: frozenset[tuple[int, int]] = frozenset()


def _os_error(exc: OSError, shown: str) -> InputError:
    """A sentence about ``shown`` for an OS error (never the OS's own text, which has paths)."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return InputNotFound(f"file not found: {shown}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return InputUnreadable(f"permission denied reading {shown}")
    if exc.errno in (errno.ENXIO, errno.ENODEV, errno.EISDIR):
        return InputNotAFile(f"not a regular file: {shown}")
    return InputUnreadable(f"cannot read {shown}: {os.strerror(exc.errno or errno.EIO).lower()}")


def _symlink_refused(shown: str) -> SymlinkRefused:
    return SymlinkRefused(
        f"{shown}: refused, the path goes through a symbolic link; submit the file's real path"
    )


def _is_symlink(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _step(dir_fd: int, name: str, walk: Walk) -> int:
    """Open the directory ``name`` inside ``dir_fd`` (closed here, whatever happens)."""
    try:
        child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink(dir_fd, name):
            raise _symlink_refused(walk.shown) from None
        raise _os_error(exc, walk.shown) from None
    finally:
        os.close(dir_fd)
    try:
        _check_not_avoided(child, walk)
    except BaseException:
        os.close(child)
        raise
    return child


def _check_not_avoided(dir_fd: int, walk: Walk) -> None:
    st = os.fstat(dir_fd)
    if (st.st_dev, st.st_ino) in walk.avoid:
        raise SourceNotAllowed(
            f"{walk.shown}: refused, the service's own storage cannot be read as a path source"
        )


def _open_last(dir_fd: int, walk: Walk) -> Opened:
    """Open the final component: a regular file, not a link, FIFO, device or directory."""
    name = walk.parts[-1]
    try:
        before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        raise _os_error(exc, walk.shown) from None
    if stat.S_ISLNK(before.st_mode):
        raise _symlink_refused(walk.shown)
    if not stat.S_ISREG(before.st_mode):  # never open a device: opening alone may act
        raise InputNotAFile(f"not a regular file: {walk.shown}")
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _symlink_refused(walk.shown) from None
        raise _os_error(exc, walk.shown) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # swapped after the check above
        os.close(fd)
        raise InputNotAFile(f"not a regular file: {walk.shown}")
    return Opened(fd, name, st.st_size)


def open_below(walk: Walk) -> Opened:
    """Open ``walk.parts`` below ``walk.root`` with one descriptor per component."""
    if not walk.parts:
        raise InputNotAFile(f"not a regular file: {walk.shown}")
    try:
        fd = os.open(walk.root, ROOT_FLAGS)
    except OSError as exc:
        raise _os_error(exc, walk.shown) from None
    try:
        _check_not_avoided(fd, walk)
        for part in walk.parts[:-1]:
            fd, owned = -1, fd
            fd = _step(owned, part, walk)
        return _open_last(fd, walk)
    finally:
        if fd >= 0:
            os.close(fd)


def copy_opened(opened: Opened, dest_dir: Path, shown: str, on_bytes: OnBytes) -> Path:
    """Copy an opened file into ``dest_dir`` from its descriptor (closed afterwards)."""
    dest, done = dest_dir / opened.name, 0
    with os.fdopen(opened.fd, "rb", buffering=0) as src, dest.open("wb") as out:
        while chunk := _read(src, shown):
            out.write(chunk)
            done += len(chunk)
            on_bytes(done, opened.size)
    return dest


def _read(src: BinaryIO, shown: str) -> bytes:
    # Only errors of the input are the input's fault; a full disk on our side is not.
    try:
        return src.read(CHUNK)
    except OSError as exc:
        raise _os_error(exc, shown) from None


def _refuse_bad_text(ref: str) -> None:
    if "\x00" in ref or not ref.strip():
        raise InputNotFound("invalid path")


# --- path sources ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Root:
    """One allowed root: the spellings a submitted path may start with, and its real path."""

    prefixes: tuple[tuple[str, ...], ...]
    real: Path


def allowed_roots(settings: Settings) -> list[Root]:
    """The configured roots, each resolved once; a path may use either spelling."""
    out = []
    for raw in settings.allowed_roots.split(os.pathsep):
        if raw.strip():
            real = Path(raw).resolve()
            spellings = {PurePosixPath(os.path.abspath(raw)).parts, PurePosixPath(real).parts}
            out.append(Root(tuple(sorted(spellings)), real))
    return out


def _data_dir_identity(settings: Settings) -> frozenset[tuple[int, int]]:
    """(device, inode) of the data directory and its storage areas (bind mounts included)."""
    data = settings.data_dir.resolve()
    out = set()
    for path in (data, data / "uploads", data / "work"):
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.add((st.st_dev, st.st_ino))
    return frozenset(out)


class PathSource:
    """A file on a local disk the workers can read, under one of the allowed roots."""

    kind = "path"

    def walk(self, ref: str, settings: Settings) -> Walk:
        """Which root ``ref`` is under and the components below it (no file access yet)."""
        _refuse_bad_text(ref)
        roots = allowed_roots(settings)
        if not roots:
            raise SourceNotAllowed(
                "path sources are disabled: set KICKFLOW_ALLOWED_ROOTS to the directories "
                "workers may read"
            )
        if not PurePosixPath(ref).is_absolute():
            raise SourceNotAllowed(f"{ref} is outside the allowed roots: give an absolute path")
        parts = PurePosixPath(ref).parts
        if ".." in parts:
            raise SourceNotAllowed(f"{ref} is outside the allowed roots: '..' is refused")
        match = _longest_prefix(parts, roots)
        if match is None:
            log.info("path %r refused: outside %s", ref, [str(r.real) for r in roots])
            raise SourceNotAllowed(f"{ref} is outside the allowed roots")
        root, rest = match
        if _inside(root.joinpath(*rest), settings.data_dir.resolve()):
            raise SourceNotAllowed(
                f"{ref}: refused, the service's own storage cannot be read as a path source"
            )
        return Walk(root, rest, ref, _data_dir_identity(settings))

    def inspect(self, ref: str, settings: Settings) -> SourceInfo:
        opened = open_below(self.walk(ref, settings))
        os.close(opened.fd)
        return SourceInfo(opened.name, opened.size)

    def fetch(self, ref: str, dest_dir: Path, settings: Settings, on_bytes: OnBytes) -> Path:
        return copy_opened(open_below(self.walk(ref, settings)), dest_dir, ref, on_bytes)


def _longest_prefix(parts: Sequence[str], roots: list[Root]) -> tuple[Path, tuple[str, ...]] | None:
    """(real root, the rest of ``parts``) for the longest root spelling ``parts`` starts with."""
    best: tuple[int, Path] | None = None
    for root in roots:
        for prefix in root.prefixes:
            fits = tuple(parts[: len(prefix)]) == prefix
            if fits and (best is None or len(prefix) > best[0]):
                best = (len(prefix), root.real)
    if best is None:
        return None
    return best[1], tuple(parts[best[0] :])


# --- uploads --------------------------------------------------------------------------------


def uploads_dir(settings: Settings) -> Path:
    """Where uploaded files are stored; an ``upload`` reference is relative to it."""
    return (settings.data_dir / "uploads").resolve()


class UploadSource:
    """A file in the service's own storage (written by the upload endpoint): read from the
    data directory with the descriptor walk, or from object storage through the port."""

    kind = "upload"

    def walk(self, ref: str, settings: Settings) -> Walk:
        shown = f"upload {ref}"
        if "\x00" in ref or not ref.strip() or PurePosixPath(ref).is_absolute():
            raise SourceNotAllowed("invalid upload reference")
        if ".." in PurePosixPath(ref).parts:
            raise SourceNotAllowed("invalid upload reference: outside the upload storage")
        return Walk(uploads_dir(settings), PurePosixPath(ref).parts, shown)

    def inspect(self, ref: str, settings: Settings) -> SourceInfo:
        if settings.storage == "s3":
            return SourceInfo(parse_ref(ref).name, open_storage(settings).stat(ref).size)
        opened = open_below(self.walk(ref, settings))
        os.close(opened.fd)
        return SourceInfo(opened.name, opened.size)

    def fetch(self, ref: str, dest_dir: Path, settings: Settings, on_bytes: OnBytes) -> Path:
        if settings.storage == "s3":
            return open_storage(settings).fetch(ref, dest_dir, on_bytes)
        walk = self.walk(ref, settings)
        return copy_opened(open_below(walk), dest_dir, walk.shown, on_bytes)


register(PathSource())
register(UploadSource())
from kickflow.integrations.google import drive_source as _drive  # noqa: E402, F401 - "drive"
from kickflow.jobs import url_source as _url_source  # noqa: E402, F401 - registers "url"
