"""The door for timed text: refuse what is not subtitles, read what is into cues.

``check_subtitle_file`` is the cheap pre-check the CLI and the API run before a job exists
(it raises SubtitleRefused with one sentence); ``load_subtitle_file`` and
``parse_subtitle_bytes`` never raise for bad content: a file that cannot be read becomes a
``SubtitleFile`` whose ``error`` says why, so the media QC still completes and the
``subtitle.parse`` check reports it. Every sentence names the file as delivered, never the
path it is stored under.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from kickflow.errors import SubtitleRefused
from kickflow.media.model import ParseProblem, SubtitleFile
from kickflow.subtitles.blocks import read_srt, read_vtt
from kickflow.subtitles.common import Parsed, Unreadable
from kickflow.subtitles.encoding import Decoded, decode
from kickflow.subtitles.sniff import (
    CODEC_FORMATS,
    EXTENSIONS,
    extension,
    name_mismatch,
    sniff_format,
)
from kickflow.subtitles.substation import read_substation
from kickflow.subtitles.text import language_from_name, language_key
from kickflow.subtitles.ttml import read_ttml

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
READERS: dict[str, Callable[[str], Parsed]] = {
    "srt": read_srt,
    "vtt": read_vtt,
    "ttml": read_ttml,
    "ass": lambda text: read_substation(text, "ass"),
    "ssa": lambda text: read_substation(text, "ssa"),
}


def check_subtitle_file(path: Path, name: str, *, max_bytes: int) -> None:
    """Refuse, before any job is made, a subtitle file that is missing, empty, too big, of an
    unknown format or not subtitles at all (SubtitleRefused, one sentence naming ``name``)."""
    shown = display_name(name)
    size = _size(path, shown, max_bytes)
    head = _read(path, shown, SNIFF_BYTES)
    try:
        sniff_format(decode(head, partial=size > len(head)).text, shown)
    except Unreadable as exc:
        raise SubtitleRefused(f"{shown} {exc}") from None


def load_subtitle_file(path: Path, name: str, *, max_bytes: int) -> SubtitleFile:
    """The subtitle file at ``path``, delivered as ``name``, read into cues; a file that
    cannot be read gives ``SubtitleFile(error=…)`` rather than an exception."""
    shown = display_name(name)
    try:
        _size(path, shown, max_bytes)
        data = _read(path, shown, max_bytes)
    except SubtitleRefused as exc:
        return SubtitleFile(name=shown, format=_named_format(shown), error=exc.message)
    return parse_subtitle_bytes(data, shown)


def parse_subtitle_bytes(
    data: bytes,
    name: str,
    *,
    format_hint: str | None = None,
    language: str | None = None,
    stream_index: int | None = None,
) -> SubtitleFile:
    """Cues from the bytes of a subtitle file or of a text stream FFmpeg extracted
    (``format_hint``: its codec name, e.g. ``subrip``, ``ass``, ``webvtt``). The language is
    ``language`` (a stream tag), else the file name's, else the document's."""
    base = SubtitleFile(
        name=name,
        format=CODEC_FORMATS.get(format_hint or "", _named_format(name)),
        stream_index=stream_index,
        size_bytes=len(data),
        language=language or (language_from_name(name) if stream_index is None else None),
    )
    if not data:
        return _failed(base, f"{name} is empty (0 bytes)")
    try:
        decoded = decode(data, language=language_key(base.language))
        fmt = CODEC_FORMATS.get(format_hint or "") or sniff_format(decoded.text, name)
        parsed = READERS[fmt](decoded.text)
    except Unreadable as exc:
        return _failed(base, f"{name} {exc}")
    except Exception:  # a parser bug must not fail the media QC: logged, reported as a finding
        log.warning("subtitle file %s could not be read", name, exc_info=True)
        return _failed(base, f"{name} cannot be read: its content confused the reader")
    return _parsed(base, decoded, fmt, parsed)


def display_name(name: str) -> str:
    """The delivered name without any directories (those could be a server path)."""
    return PurePosixPath(name.replace("\\", "/")).name or name


def _parsed(base: SubtitleFile, decoded: Decoded, fmt: str, parsed: Parsed) -> SubtitleFile:
    mismatch = name_mismatch(base.name, fmt) if base.stream_index is None else None
    problems = ((ParseProblem(None, mismatch),) if mismatch else ()) + parsed.problems
    return SubtitleFile(
        name=base.name,
        format=fmt,
        encoding=decoded.encoding,
        bom=decoded.bom,
        language=base.language or parsed.language,
        stream_index=base.stream_index,
        cues=parsed.cues,
        problems=problems,
        size_bytes=base.size_bytes,
        encoding_line=decoded.first_bad_line,
    )


def _failed(base: SubtitleFile, error: str) -> SubtitleFile:
    return SubtitleFile(
        name=base.name,
        format=base.format,
        language=base.language,
        stream_index=base.stream_index,
        size_bytes=base.size_bytes,
        error=error,
    )


def _named_format(name: str) -> str:
    return EXTENSIONS.get(extension(name), "unknown")


def _size(path: Path, shown: str, max_bytes: int) -> int:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SubtitleRefused(f"{shown}: no such file") from None
    except OSError as exc:
        raise SubtitleRefused(f"{shown} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SubtitleRefused(f"{shown} is not a regular file")
    if info.st_size == 0:
        raise SubtitleRefused(f"{shown} is empty (0 bytes)")
    if info.st_size > max_bytes:
        raise SubtitleRefused(
            f"{shown} is {_mb(info.st_size)}; subtitle files are accepted up to {_mb(max_bytes)} "
            "(a feature film's subtitles are well under 1 MB)"
        )
    return info.st_size


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size < 10_000_000 else f"{size / 1_000_000:.0f} MB"


def _read(path: Path, shown: str, limit: int) -> bytes:
    """At most ``limit`` bytes: a file that grew after its size was checked stays bounded."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SubtitleRefused(f"{shown} cannot be read ({exc.strerror})") from None
    try:
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
