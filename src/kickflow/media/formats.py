"""Which container formats FFmpeg may open: self-contained media only.

Manifests and playlists (HLS, DASH, IMF, concat, SDP …) make FFmpeg open further files or URLs
named inside them; image sequences read sibling files. None of those may ever reach a demuxer.
The allow-list below is handed to FFmpeg itself as ``format_whitelist``, both to the probe and
to the decode, so whatever a build detects, it can only use a demuxer on this list.

Names are FFmpeg demuxer names; FFmpeg matches a list against every comma-separated alias of a
demuxer (``mov`` matches ``mov,mp4,m4a,3gp,3g2,mj2``).
"""

from __future__ import annotations

# Self-contained containers: they carry their own streams and never name other inputs
# (mov's external data references are off unless enable_drefs is set, which we never do).
CONTAINERS: tuple[str, ...] = (
    "mov", "matroska", "webm", "mxf", "mpegts", "mpeg", "avi", "asf", "flv", "gxf", "lxf",
    "dv", "wav", "w64", "aiff", "caf", "flac", "mp3", "aac", "ac3", "eac3", "dts", "truehd",
    "ogg", "wv", "ape", "tta",
)  # fmt: skip

# Headerless PCM: any bytes decode as "audio", so they are accepted only where a profile
# says so (``container.allow_raw_pcm``).
RAW_PCM: tuple[str, ...] = (
    "s16le", "s16be", "s24le", "s24be", "s32le", "s32be", "f32le", "f32be", "f64le", "f64be",
    "u8", "s8", "u16le", "u16be", "u24le", "u24be", "u32le", "u32be", "mulaw", "alaw",
)  # fmt: skip

# Formats that are harmless to *name* (they read only the given file) but are not
# programmes: used only to say what a refused file is.
NAMED_ONLY: tuple[str, ...] = (
    "png_pipe", "jpeg_pipe", "bmp_pipe", "gif", "tiff_pipe", "webp_pipe", "svg_pipe",
    "srt", "ass", "webvtt", "subviewer", "microdvd", "tty", "h264", "hevc", "mpegvideo", "m4v",
)  # fmt: skip

_KIND: dict[str, str] = {
    "png_pipe": "a PNG image",
    "jpeg_pipe": "a JPEG image",
    "bmp_pipe": "a BMP image",
    "gif": "a GIF image",
    "tiff_pipe": "a TIFF image",
    "webp_pipe": "a WebP image",
    "svg_pipe": "an SVG image",
    "srt": "a subtitle file",
    "ass": "a subtitle file",
    "webvtt": "a subtitle file",
    "subviewer": "a subtitle file",
    "microdvd": "a subtitle file",
    "tty": "a text file",
    "h264": "a raw H.264 elementary stream",
    "hevc": "a raw HEVC elementary stream",
    "mpegvideo": "a raw MPEG video elementary stream",
    "m4v": "a raw MPEG-4 video elementary stream",
}


def allowed_formats(*, allow_raw_pcm: bool) -> tuple[str, ...]:
    """The demuxers FFmpeg may use for an input."""
    return CONTAINERS + RAW_PCM if allow_raw_pcm else CONTAINERS


def whitelist(names: tuple[str, ...]) -> str:
    """The ``format_whitelist`` value for ``names``."""
    return ",".join(names)


def aliases(format_name: str) -> set[str]:
    """The comma-separated aliases of a demuxer name (``matroska,webm``)."""
    return {part for part in format_name.split(",") if part}


def is_raw_pcm(format_name: str) -> bool:
    return bool(aliases(format_name) & set(RAW_PCM))


def refusal_for(format_name: str, file_name: str) -> str:
    """The one sentence for a file whose (harmless, named) format is not a programme."""
    if is_raw_pcm(format_name):
        return (
            f"refused: {file_name} is headerless raw audio ({format_name}) with no container; "
            "deliver it in a container such as WAV, or use a profile with "
            "container.allow_raw_pcm = true"
        )
    kind = next((_KIND[a] for a in aliases(format_name) if a in _KIND), None)
    what = kind or f"in the {format_name} format"
    return f"refused: {file_name} is {what}, not a programme in a media container"


def unknown_refusal(file_name: str) -> str:
    """The sentence for a file no self-contained container format accepts."""
    return (
        f"refused: {file_name} is not in a self-contained media container format "
        "(MOV/MP4, Matroska/WebM, MXF, MPEG-TS, AVI, WAV, FLAC, MP3, AAC, Ogg …)"
    )
