"""Hostile inputs, generated: manifests and lists that name a secret file outside the upload.

Every manifest kind FFmpeg can follow (HLS, DASH, IMF, ffconcat, bare concat, SDP) is written
plain, behind a BOM, behind white space, behind binary junk, with binary junk inside a comment,
and as polyglots (a WAV, MP4 or ID3 header in front). ``SECRET_MARKER`` is in the secret's
metadata; ``SECRET_SECONDS`` and its peak are its measurable fingerprint.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures_media import run_ffmpeg_cli

SECRET_MARKER = "KFSECRET-7f3a91"
SECRET_SECONDS = 9.5
SECRET_PEAK_DBFS = -6.02
# Extensions PyAV maps to headerless PCM formats, plus common media names.
RAW_EXTENSIONS = (".ul", ".al", ".sw", ".ub", ".sb")
MEDIA_EXTENSIONS = (".mp4", ".mov", ".wav", ".mxf", ".mkv", ".mp3")
EXTENSIONS = RAW_EXTENSIONS + MEDIA_EXTENSIONS


def make_secret(path: Path) -> Path:
    """A WAV outside every allowed place: 9.5 s of 1234 Hz at −6 dBFS, tagged with the marker."""
    run_ffmpeg_cli(
        ["-f", "lavfi", "-i", f"sine=f=1234:sample_rate=48000:d={SECRET_SECONDS}",
         "-af", "volume=-2.98dB", "-metadata", f"title={SECRET_MARKER}", "-c:a", "pcm_s16le",
         str(path)]
    )  # fmt: skip
    return path


def _hls(secret: Path) -> bytes:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:{SECRET_SECONDS},\nfile://{secret}\n#EXTINF:1,\n{secret}\n#EXT-X-ENDLIST\n"
    ).encode()


def _dash(secret: Path) -> bytes:
    return (
        '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT9.5S" minBufferTime="PT1S" '
        'profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period><AdaptationSet '
        'mimeType="audio/wav"><Representation id="a" bandwidth="768000">'
        f"<BaseURL>file://{secret}</BaseURL></Representation></AdaptationSet></Period></MPD>\n"
    ).encode()


def _imf(secret: Path) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<CompositionPlaylist '
        'xmlns="http://www.smpte-ra.org/schemas/2067-3/2016"><Id>urn:uuid:'
        "00000000-0000-4000-8000-000000000001</Id><EditRate>25 1</EditRate><SegmentList>"
        "<Segment><SequenceList><MainAudioSequence><ResourceList><Resource><TrackFileId>"
        f"urn:uuid:00000000-0000-4000-8000-000000000002</TrackFileId><!-- {secret} -->"
        "</Resource></ResourceList></MainAudioSequence></SequenceList></Segment></SegmentList>"
        "</CompositionPlaylist>\n"
    ).encode()


def _ffconcat(secret: Path) -> bytes:
    return f"ffconcat version 1.0\nfile '{secret}'\nfile 'file:{secret}'\n".encode()


def _concat(secret: Path) -> bytes:
    return f"file '{secret}'\nduration {SECRET_SECONDS}\n".encode()


def _sdp(_: Path) -> bytes:
    # Loopback only: refused before any socket is opened.
    return (
        b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=KickFlow test\nc=IN IP4 127.0.0.1\nt=0 0\n"
        b"m=audio 5004 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
    )


MANIFESTS: dict[str, Callable[[Path], bytes]] = {
    "hls": _hls,
    "dash": _dash,
    "imf": _imf,
    "ffconcat": _ffconcat,
    "concat": _concat,
    "sdp": _sdp,
}


def _junk(seed: int, size: int = 300) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice([*range(1, 9), *range(14, 32), *range(127, 160)]) for _ in range(size))


def _in_comment(kind: str, body: bytes) -> bytes:
    """Binary junk inside the manifest's own comment syntax (the file no longer looks like text)."""
    junk = _junk(7)
    if kind in {"dash", "imf"}:
        head, _, rest = body.partition(b"?>\n")
        return head + b"?>\n<!-- " + junk + b" -->\n" + rest
    first, _, rest = body.partition(b"\n")
    return first + b"\n#" + junk + b"\n" + rest


def _wav_header() -> bytes:
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 8000, 16000, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + 64) + b"WAVE" + fmt + b"data" + struct.pack("<I", 64)


def _mp4_header() -> bytes:
    return struct.pack(">I", 24) + b"ftypisom" + struct.pack(">I", 512) + b"isomiso2mp41"


def _id3_header() -> bytes:
    return b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10


WRAPPERS: dict[str, Callable[[str, bytes], bytes]] = {
    "plain": lambda _, body: body,
    "bom": lambda _, body: b"\xef\xbb\xbf" + body,
    "whitespace": lambda _, body: b"\n \t\r\n  " + body,
    "junk": lambda _, body: _junk(3) + b"\n" + body,
    "comment": _in_comment,
    "wav-polyglot": lambda _, body: _wav_header() + b"\x00" * 64 + body,
    "mp4-polyglot": lambda _, body: _mp4_header() + body,
    "id3-polyglot": lambda _, body: _id3_header() + body,
}


@dataclass(frozen=True)
class Hostile:
    """One generated hostile file."""

    kind: str
    wrapper: str
    path: Path


def write_corpus(directory: Path, secret: Path, extensions: tuple[str, ...]) -> list[Hostile]:
    """Every manifest × wrapper, the extension rotating so that each one is used."""
    out = []
    for i, (kind, make) in enumerate(MANIFESTS.items()):
        for j, (wrapper, wrap) in enumerate(WRAPPERS.items()):
            ext = extensions[(i * len(WRAPPERS) + j) % len(extensions)]
            path = directory / f"{kind}-{wrapper}{ext}"
            path.write_bytes(wrap(kind, make(secret)))
            out.append(Hostile(kind, wrapper, path))
    return out
