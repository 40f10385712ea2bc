"""Checks on an input file before FFmpeg sees it: existence, size, and refusing playlists.

Playlists and manifests (HLS, DASH, IMF, ffconcat, SDP …) make FFmpeg open further files or
URLs named inside them; that is how media services get tricked into reading local files or
internal addresses. Sniffing them here gives the user a sentence that names what the file is;
the guard that cannot be talked round is the demuxer allow-list FFmpeg itself enforces
(``media/formats.py``), so a file this sniffing misses is still refused.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kickflow.errors import (
    InputEmpty,
    InputError,
    InputNotAFile,
    InputNotFound,
    InputUnreadable,
    NotMedia,
    PlaylistRefused,
)


@dataclass(frozen=True)
class SubtitleInput:
    """A subtitle file delivered beside the media: where it is here, and its delivered name."""

    path: Path
    name: str  # as delivered ("EP01.en.srt"): reports show this, never ``path``


SNIFF_BYTES = 64 * 1024
PLAYLIST_SUFFIXES = frozenset({".m3u8", ".m3u", ".ffconcat", ".concat", ".pls", ".sdp", ".mpd"})
# Marker -> what the file is. Text markers count at the start of the file (after a BOM or
# white space) or anywhere in a text file; binary media may carry them in its metadata.
TEXT_MARKERS: tuple[tuple[bytes, str], ...] = (
    (b"#EXTM3U", "an HLS playlist"),
    (b"#EXT-X-", "an HLS playlist"),
    (b"ffconcat version", "an FFmpeg concat list"),
    (b"[playlist]", "a PLS playlist"),
    (b"file '", "a concat list"),
)
# XML manifests: their root elements never occur in media, so they count anywhere in the
# first bytes, also behind binary junk (an XML comment can hide a few hundred binary bytes).
MANIFEST_MARKERS: tuple[tuple[bytes, str], ...] = (
    (b"<MPD", "a DASH manifest"),
    (b"urn:mpeg:dash:schema:mpd", "a DASH manifest"),
    (b"<CompositionPlaylist", "an IMF composition playlist"),
    (b"<AssetMap", "an IMF asset map"),
    (b"<smil", "a SMIL playlist"),
)
SDP_START = (b"v=0\n", b"v=0\r\n")
# Whole manifest lines anywhere in a binary file: a polyglot (a media header in front of a
# playlist; a line starts after any byte that is not printable ASCII). A lone "#EXTM3U" may
# occur in media metadata; these lines do not.
POLYGLOT_LINES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"#EXTM3U\r?\n|\n#EXTINF:|\n#EXT-X-"), "an HLS playlist"),
    (re.compile(rb"ffconcat version"), "an FFmpeg concat list"),
    (re.compile(rb"(?:^|[^ -~])file '[^'\n]+'\r?\n"), "a concat list"),
    (re.compile(rb"(?:^|[^ -~])v=0\r?\no="), "an SDP session description"),
)
# Still images by their first bytes, as FFmpeg's demuxer names (media/formats.py words them).
IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png_pipe"),
    (b"\xff\xd8\xff\xe0", "jpeg_pipe"),
    (b"\xff\xd8\xff\xe1", "jpeg_pipe"),
    (b"\xff\xd8\xff\xdb", "jpeg_pipe"),
    (b"\xff\xd8\xff\xee", "jpeg_pipe"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff_pipe"),
    (b"MM\x00*", "tiff_pipe"),
)
# Demuxers that follow references to other files or URLs.
REFERENCING_FORMATS = frozenset(
    {"hls", "applehttp", "concat", "sdp", "rtsp", "rtp", "dash", "mpd", "imf", "image2"}
)


def looks_like_text(head: bytes) -> bool:
    """True when the first bytes are plain text (no NULs, nearly all printable)."""
    if not head or b"\x00" in head:
        return False
    printable = sum(1 for b in head if b in b"\t\r\n" or 32 <= b < 127 or b >= 0x80)
    return printable / len(head) > 0.97


def sniff_reference_list(head: bytes) -> str | None:
    """What kind of manifest, playlist or concat list the content is; None for anything else."""
    for marker, kind in MANIFEST_MARKERS:
        if marker in head:
            return kind
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(SDP_START):
        return "an SDP session description"
    for marker, kind in TEXT_MARKERS:
        if stripped.startswith(marker):
            return kind
    if looks_like_text(head):
        return next((kind for marker, kind in TEXT_MARKERS if marker in head), None)
    return next((kind for pattern, kind in POLYGLOT_LINES if pattern.search(head)), None)


def sniff_playlist(head: bytes) -> bool:
    """True when the content names other inputs (playlist, manifest, concat list)."""
    return sniff_reference_list(head) is not None


def validate_input(path: Path) -> int:
    """Refuse what cannot be media before decoding; returns the size in bytes.

    Messages name the file, never the directory it is in (that is a server path).
    """
    name = path.name
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputNotFound(f"{name}: no such file.") from None
    except OSError as exc:
        raise InputUnreadable(f"{name}: cannot be read ({exc.strerror}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputNotAFile(f"{name} is a directory, not a media file.")
    if not stat.S_ISREG(info.st_mode):
        raise InputNotAFile(f"{name} is not a regular file.")
    if info.st_size == 0:
        raise InputEmpty(f"{name} is empty (0 bytes).")
    refusal = content_refusal(name, _read_head(path))
    if refusal is not None:
        raise refusal
    return info.st_size


def content_refusal(name: str, head: bytes) -> InputError | None:
    """Why a file called ``name`` whose first bytes (up to SNIFF_BYTES) are ``head`` cannot be
    decoded as a programme (a playlist or manifest, a text file), or None when it may be."""
    kind = sniff_reference_list(head)
    if kind is not None:
        return PlaylistRefused(
            f"refused: {name} is {kind}, which can make FFmpeg open other files; "
            "submit the media file itself"
        )
    if PurePosixPath(name).suffix.lower() in PLAYLIST_SUFFIXES:
        return PlaylistRefused(f"refused: {name} is named as a playlist; submit the media file")
    if looks_like_text(head):
        return NotMedia(f"{name} is not a media file: it contains text.")
    return None


def image_format(head: bytes) -> str | None:
    """FFmpeg's demuxer name for a still image with these first bytes (PNG, JPEG, GIF, TIFF,
    WebP), or None. Only signatures of four bytes or more: shorter ones (BMP's ``BM``) turn up
    at the start of headerless audio too."""
    for signature, format_name in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return format_name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp_pipe"
    return None


def _read_head(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InputUnreadable(f"{path.name}: cannot be read ({exc.strerror}).") from None
    try:
        return os.read(fd, SNIFF_BYTES)
    finally:
        os.close(fd)
