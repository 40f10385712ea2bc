"""Checks on an input file before FFmpeg sees it: existence, size, and refusing playlists.

Playlists (HLS, ffconcat, other text lists) make FFmpeg open further files or URLs named inside
them; that is how media services get tricked into reading local files or internal addresses, so
they are refused whatever the file is called.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kickflow.errors import (
    InputEmpty,
    InputNotAFile,
    InputNotFound,
    InputUnreadable,
    NotMedia,
    PlaylistRefused,
)

SNIFF_BYTES = 4096
PLAYLIST_SUFFIXES = frozenset({".m3u8", ".m3u", ".ffconcat", ".concat", ".pls", ".sdp"})
PLAYLIST_MARKERS = (b"#EXTM3U", b"#EXT-X-", b"ffconcat version", b"[playlist]", b"file '")
# Demuxers that follow references to other files or URLs.
REFERENCING_FORMATS = frozenset({"hls", "applehttp", "concat", "sdp", "rtsp", "dash", "mpd"})


def looks_like_text(head: bytes) -> bool:
    """True when the first bytes are plain text (no NULs, nearly all printable)."""
    if not head or b"\x00" in head:
        return False
    printable = sum(1 for b in head if b in b"\t\r\n" or 32 <= b < 127 or b >= 0x80)
    return printable / len(head) > 0.97


def sniff_playlist(head: bytes) -> bool:
    """True when the content is a playlist or concat list: a text file naming other inputs.

    Binary media may carry these words in its metadata, so they only count in text.
    """
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if any(stripped.startswith(m) for m in PLAYLIST_MARKERS):
        return True
    return looks_like_text(head) and any(m in head for m in PLAYLIST_MARKERS)


def validate_input(path: Path) -> int:
    """Refuse what cannot be media before decoding; returns the size in bytes."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputNotFound(f"{path}: no such file.") from None
    except OSError as exc:
        raise InputUnreadable(f"{path}: cannot be read ({exc.strerror}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputNotAFile(f"{path} is a directory, not a media file.")
    if not stat.S_ISREG(info.st_mode):
        raise InputNotAFile(f"{path} is not a regular file.")
    if info.st_size == 0:
        raise InputEmpty(f"{path} is empty (0 bytes).")
    head = _read_head(path)
    if sniff_playlist(head) or path.suffix.lower() in PLAYLIST_SUFFIXES:
        raise PlaylistRefused(
            f"{path.name} is a playlist or concat list; submit the media file itself."
        )
    if looks_like_text(head):
        raise NotMedia(f"{path.name} is not a media file: it contains text.")
    return info.st_size


def _read_head(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InputUnreadable(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        return os.read(fd, SNIFF_BYTES)
    finally:
        os.close(fd)
