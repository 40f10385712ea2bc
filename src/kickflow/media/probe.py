"""Probing with PyAV: structured stream facts, never regexes over FFmpeg's banner.

Only allow-listed demuxers may open the file (``format_whitelist``), and decoders refuse
pictures above the pixel limit (``max_pixels``). This module runs in the probe child process;
``media/probing.py`` is the parent side.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from kickflow.errors import (
    FormatRefused,
    InputError,
    InputUnreadable,
    NotMedia,
    PlaylistRefused,
    ResourceLimitExceeded,
    TimecodeInvalid,
)
from kickflow.media.formats import (
    NAMED_ONLY,
    RAW_PCM,
    aliases,
    allowed_formats,
    refusal_for,
    unknown_refusal,
    whitelist,
)
from kickflow.media.inputs import REFERENCING_FORMATS
from kickflow.media.model import AudioStream, MediaInfo, SubtitleStream, VideoStream
from kickflow.media.mov_timecode import read_tmcd
from kickflow.media.timecode import clock_text, retime_timecode

# FFmpeg's enum values (libavutil/pixfmt.h, libavcodec/defs.h), named as FFmpeg names them.
COLOR_RANGES = {1: "tv", 2: "pc"}
COLOR_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
                   9: "bt2020", 11: "smpte431", 12: "smpte432"}  # fmt: skip
COLOR_TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m",
                   8: "linear", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
                   16: "smpte2084", 18: "arib-std-b67"}  # fmt: skip
COLOR_SPACES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
                8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 14: "ictcp"}  # fmt: skip
FIELD_ORDERS = {1: "progressive", 2: "tff", 3: "bff", 4: "tff", 5: "bff"}
VFR_TOLERANCE = 0.01  # relative difference between nominal and average frame rate
OPEN_OPTIONS = {"protocol_whitelist": "file"}
# Subtitle codecs whose events are text this service can read; the rest (DVB, PGS, DVD, XSUB,
# teletext) are pictures or pages: reported as present, not read.
TEXT_SUBTITLES = frozenset({"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text", "ttml"})
BITMAP_SUBTITLES = frozenset(
    {"dvb_subtitle", "hdmv_pgs_subtitle", "dvd_subtitle", "xsub", "dvb_teletext"}
)
TEXT_SUB_PROPERTY = 1 << 17  # AV_CODEC_PROP_TEXT_SUB (libavcodec/codec_desc.h)


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _rate(value: Fraction | None) -> float | None:
    return float(value) if value else None


def _video(stream: Any) -> VideoStream:
    cc = stream.codec_context
    fmt = cc.format
    nominal = _rate(stream.base_rate) or _rate(stream.guessed_rate)
    average = _rate(stream.average_rate)
    vfr = bool(nominal and average and abs(nominal - average) / nominal > VFR_TOLERANCE)
    return VideoStream(
        index=stream.index,
        codec=cc.name,
        profile=cc.profile or None,
        width=cc.width,
        height=cc.height,
        frame_rate=nominal,
        avg_frame_rate=average,
        variable_frame_rate=vfr,
        scan=FIELD_ORDERS.get(int(getattr(cc, "field_order", 0) or 0), "unknown"),
        pix_fmt=fmt.name if fmt else None,
        bit_depth=max((c.bits for c in fmt.components), default=None) if fmt else None,
        color_range=COLOR_RANGES.get(int(cc.color_range or 0)),
        color_primaries=COLOR_PRIMARIES.get(int(cc.color_primaries or 2)),
        color_transfer=COLOR_TRANSFERS.get(int(cc.color_trc or 2)),
        color_space=COLOR_SPACES.get(int(cc.colorspace if cc.colorspace is not None else 2)),
        start_s=_seconds(stream.start_time, stream.time_base) or 0.0,
        duration_s=_seconds(stream.duration, stream.time_base),
    )


def _audio(stream: Any) -> AudioStream:
    cc = stream.codec_context
    layout = cc.layout
    return AudioStream(
        index=stream.index,
        codec=cc.name,
        sample_rate=int(cc.sample_rate or 0),
        channels=int(layout.nb_channels if layout else getattr(cc, "channels", 0)),
        layout=layout.name if layout else None,
        start_s=_seconds(stream.start_time, stream.time_base) or 0.0,
        duration_s=_seconds(stream.duration, stream.time_base),
        language=_tag(stream, "language"),
        title=_tag(stream, "title"),
    )


def _subtitle(stream: Any) -> SubtitleStream:
    cc = stream.codec_context
    codec = str(cc.name) if cc is not None and cc.name else "unknown"
    return SubtitleStream(
        index=stream.index,
        codec=codec,
        text=_readable(codec, cc),
        language=_tag(stream, "language"),
        # MP4 keeps a track's title in its ``name`` atom, and FFmpeg gives it back so.
        title=_tag(stream, "title") or _tag(stream, "name"),
    )


def _readable(codec: str, cc: Any) -> bool:
    """Text subtitles by name; an unnamed codec by its descriptor's text property."""
    if codec in TEXT_SUBTITLES or codec in BITMAP_SUBTITLES:
        return codec in TEXT_SUBTITLES
    try:
        return bool(int(cc.codec.properties) & TEXT_SUB_PROPERTY)
    except (AttributeError, TypeError, ValueError):
        return False


def _tag(stream: Any, key: str) -> str | None:
    """A stream tag, trimmed; ``und`` (undetermined) and empty values are no language."""
    tags = {str(k).lower(): str(v) for k, v in (getattr(stream, "metadata", None) or {}).items()}
    value = tags.get(key, "").strip()[:200]
    return None if not value or (key == "language" and value == "und") else value


def _open(path: Path, formats: tuple[str, ...], max_pixels: int) -> Any:
    options = {
        **OPEN_OPTIONS,
        "format_whitelist": whitelist(formats),
        "max_pixels": str(max_pixels),
    }
    return av.open(f"file:{path.resolve()}", options=options)


def _out_of_memory(path: Path) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(f"refused: probing {path.name} needed more memory than its limit")


def _refusal(path: Path, allow_raw_pcm: bool, max_pixels: int) -> InputError:
    """Why no allowed demuxer opened the file, named when a harmless demuxer recognises it."""
    named = NAMED_ONLY if allow_raw_pcm else NAMED_ONLY + RAW_PCM
    try:
        with _open(path, named, max_pixels) as container:
            return FormatRefused(refusal_for(container.format.name, path.name))
    except av.error.MemoryError:
        return _out_of_memory(path)
    except (av.error.FFmpegError, OSError):
        return FormatRefused(unknown_refusal(path.name))


def probe_in_process(
    path: Path, size_bytes: int, *, allow_raw_pcm: bool, max_pixels: int
) -> MediaInfo:
    """Container and stream facts, opening only allow-listed demuxers.

    Runs inside the probe child (``probe_child``), under its memory and time limits: opening a
    file decodes a frame or two, and a hostile file can make that frame enormous.
    """
    try:
        container = _open(path, allowed_formats(allow_raw_pcm=allow_raw_pcm), max_pixels)
    except av.error.ArgumentError:
        raise _refusal(path, allow_raw_pcm, max_pixels) from None
    except av.error.MemoryError:
        raise _out_of_memory(path) from None
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise NotMedia(f"{path.name} is not a readable media file ({reason}).") from None
    except OSError as exc:
        raise InputUnreadable(f"{path.name} cannot be read ({exc.strerror}).") from None
    with container:
        fmt = container.format.name
        if aliases(fmt) & REFERENCING_FORMATS:
            raise PlaylistRefused(f"{path.name} is a playlist ({fmt}); submit the media itself.")
        streams = list(container.streams)
        video = tuple(_video(s) for s in streams if s.type == "video" and _is_picture(s))
        audio = tuple(_audio(s) for s in streams if s.type == "audio")
        subtitles = tuple(_subtitle(s) for s in streams if s.type == "subtitle")
        duration = container.duration / 1_000_000 if container.duration else None
        info = MediaInfo(
            path=path.name,
            size_bytes=size_bytes,
            format_name=fmt,
            duration_s=duration,
            bit_rate=container.bit_rate or None,
            video=video,
            audio=audio,
            subtitle_streams=len(subtitles),
            data_streams=sum(1 for s in streams if s.type in ("data", "attachment")),
            timecode=_start_timecode(path, container, streams, video, audio),
            subtitles=subtitles,
        )
    if not info.video and not info.audio:
        raise NotMedia(f"{path.name} is not a media file: no audio or video stream.")
    return info


def _start_timecode(
    path: Path,
    container: Any,
    streams: list[Any],
    video: tuple[VideoStream, ...],
    audio: tuple[AudioStream, ...],
) -> str | None:
    """The start timecode, at the video's rate; an audio-only BWF's time reference as a clock."""
    tag = start_timecode_tag(container, streams)
    if not video:
        return tag or _bwf_clock(container, audio)
    if tag and any(s.type == "data" for s in streams) and container.format.name.startswith("mov"):
        tmcd = read_tmcd(path)
        fps = video[0].frame_rate
        if tmcd is not None and fps and tmcd.frames_per_second != round(fps):
            try:
                return retime_timecode(tag, tmcd.rate, fps)
            except TimecodeInvalid:
                return tag  # odd metadata must not stop the QC: the tag as it is
    return tag


def _bwf_clock(container: Any, audio: tuple[AudioStream, ...]) -> str | None:
    """A BWF ``bext`` time reference (samples since midnight) as ``HH:MM:SS.mmm``."""
    tags = {str(k).lower(): str(v) for k, v in (getattr(container, "metadata", None) or {}).items()}
    raw, rate = tags.get("time_reference", "").strip(), audio[0].sample_rate if audio else 0
    if not raw.isdigit() or rate <= 0:
        return None
    return clock_text(int(raw) / rate)


def start_timecode_tag(container: Any, streams: list[Any]) -> str | None:
    """The source's start timecode as tagged: MXF material package, video, ``tmcd``, format.

    FFmpeg puts a MOV/MP4 ``tmcd`` track's start on that data stream and on the video stream it
    belongs to, and an MXF material package's on the format; file packages' go on streams.
    """
    by_kind = {
        "video": [s for s in streams if s.type == "video"],
        "data": [s for s in streams if s.type == "data"],
    }
    holders = [*by_kind["video"], *by_kind["data"], *streams]
    if container.format.name == "mxf":
        holders.insert(0, container)
    else:
        holders.append(container)
    for holder in holders:
        value = _timecode_value(getattr(holder, "metadata", None) or {})
        if value:
            return value
    return None


def _timecode_value(tags: Any) -> str | None:
    for key, value in tags.items():
        if str(key).lower() == "timecode" and str(value).strip():
            return str(value).strip()[:32]
    return None


def _is_picture(stream: Any) -> bool:
    """Cover art attached to audio files is a video stream FFmpeg marks as attached_pic."""
    disposition = getattr(stream, "disposition", None)
    try:
        return not (disposition is not None and disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return True
