"""The demuxer allow-list, manifest sniffing and resource caps: pure functions, no FFmpeg."""

from __future__ import annotations

import pytest

from kickflow.media.formats import (
    CONTAINERS,
    RAW_PCM,
    allowed_formats,
    is_raw_pcm,
    refusal_for,
    unknown_refusal,
)
from kickflow.media.inputs import sniff_reference_list
from kickflow.media.model import AudioStream, MediaInfo, VideoStream
from kickflow.media.probing import ProbeLimits, cap_problem

NEVER = ("hls", "dash", "concat", "imf", "sdp", "rtp", "rtsp", "mpd", "image2", "image2pipe",
         "tee", "subfile", "data", "lavfi")  # fmt: skip


def test_allow_list_never_contains_a_referencing_demuxer() -> None:
    for allow_raw in (False, True):
        assert not set(allowed_formats(allow_raw_pcm=allow_raw)) & set(NEVER)


def test_raw_pcm_only_when_the_profile_allows_it() -> None:
    assert allowed_formats(allow_raw_pcm=False) == CONTAINERS
    assert set(RAW_PCM) <= set(allowed_formats(allow_raw_pcm=True))
    assert is_raw_pcm("mulaw") and not is_raw_pcm("mov,mp4,m4a,3gp,3g2,mj2")


def test_refusals_name_what_the_file_is() -> None:
    assert "headerless raw audio (mulaw)" in refusal_for("mulaw", "a.ul")
    assert "container.allow_raw_pcm" in refusal_for("s16le", "a.sw")
    assert refusal_for("png_pipe", "x.png") == (
        "refused: x.png is a PNG image, not a programme in a media container"
    )
    assert "x.bin is not in a self-contained media container format" in unknown_refusal("x.bin")


JUNK = bytes(range(1, 9)) * 40


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"#EXTM3U\n#EXTINF:1,\nfile:///x\n", "an HLS playlist"),
        (b"\xef\xbb\xbf#EXTM3U\n", "an HLS playlist"),
        (b"\n  \t#EXT-X-VERSION:3\n", "an HLS playlist"),
        (b'<?xml version="1.0"?><!-- ' + JUNK + b" --><MPD>", "a DASH manifest"),
        (JUNK + b"<CompositionPlaylist xmlns='x'>", "an IMF composition playlist"),
        (b"ffconcat version 1.0\nfile 'a.mp4'\n", "an FFmpeg concat list"),
        (b"file '/etc/passwd'\n", "a concat list"),
        (b"v=0\no=- 0 0 IN IP4 127.0.0.1\n", "an SDP session description"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00" + b"#EXTM3U\n#EXTINF:1,\n", "an HLS playlist"),
        (b"\x00\x00\x00\x18ftypisom\x00" + b"file '/x.wav'\n", "a concat list"),
    ],
)
def test_manifests_are_recognised_behind_boms_junk_and_media_headers(
    head: bytes, kind: str
) -> None:
    assert sniff_reference_list(head) == kind


def test_media_metadata_mentioning_a_marker_is_not_a_manifest() -> None:
    assert sniff_reference_list(b"\x00\x00\x00\x18ftypmp42\x00udta#EXTM3U file 'x'") is None
    assert sniff_reference_list(b"\x1aE\xdf\xa3\x00\x00title=#EXTM3U") is None


def _media(**kw: object) -> MediaInfo:
    video = VideoStream(0, "h264", None, 1920, 1080, 25.0, 25.0, False, "progressive",
                        "yuv420p", 8, "tv", None, None, None, 0.0, 10.0)  # fmt: skip
    audio = AudioStream(1, "aac", 48000, 2, "stereo", 0.0, 10.0)
    base: dict[str, object] = {
        "path": "x.mp4", "size_bytes": 10_000_000, "format_name": "mov", "duration_s": 10.0,
        "bit_rate": None, "video": (video,), "audio": (audio,),
    }  # fmt: skip
    return MediaInfo(**(base | kw))  # type: ignore[arg-type]


def test_caps_pass_an_ordinary_programme() -> None:
    assert cap_problem(_media(), ProbeLimits()) is None


def test_caps_name_the_limit_that_is_exceeded() -> None:
    limits = ProbeLimits(max_frame_pixels=1000, max_channels=2, max_streams=3)
    big = _media()
    assert "over the limit of 1,000 pixels" in (cap_problem(big, limits) or "")
    many = _media(video=(), audio=(AudioStream(0, "pcm_s16le", 48000, 6, None, 0.0, 1.0),))
    assert "6 channels" in (cap_problem(many, limits) or "")
    streams = _media(video=(), subtitle_streams=3)
    assert "4 streams" in (cap_problem(streams, limits) or "")
    blank = VideoStream(0, "png", None, 0, 0, None, None, False, "unknown",
                        None, None, None, None, None, None, 0.0, None)  # fmt: skip
    unknown = _media(video=(blank,))
    assert "cannot be read" in (cap_problem(unknown, ProbeLimits()) or "")


def test_duration_must_be_plausible_for_the_size() -> None:
    assert "over the limit of 24.0 h" in (
        cap_problem(_media(duration_s=90_000.0), ProbeLimits()) or ""
    )
    tiny = _media(size_bytes=5_000, duration_s=3_600.0)
    assert "which no real programme does" in (cap_problem(tiny, ProbeLimits()) or "")
    short = _media(size_bytes=500, duration_s=30.0)  # under a minute: too short to judge
    assert cap_problem(short, ProbeLimits()) is None
