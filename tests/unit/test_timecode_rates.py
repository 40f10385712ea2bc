"""A timecode track's own rate, and the millisecond clock of audio-only (BWF) files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from kickflow.media.mov_timecode import TmcdRate, read_tmcd
from kickflow.media.timecode import clock_text, rate_for, retime_timecode, source_timecode


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def tmcd_entry(scale: int, duration: int, frames: int, flags: int = 0) -> bytes:
    fields = struct.pack(">IIIB", flags, scale, duration, frames)
    body = bytes(6) + struct.pack(">H", 1) + bytes(4) + fields + bytes(3)
    return box(b"tmcd", body)


def movie(entry: bytes, *, before: bytes = b"") -> bytes:
    stsd = box(b"stsd", bytes(4) + struct.pack(">I", 1) + entry)
    trak = box(b"trak", box(b"mdia", box(b"minf", box(b"stbl", stsd))))
    video = box(b"trak", box(b"tkhd", bytes(84)))
    return box(b"ftyp", b"qt  \x00\x00\x02\x00") + before + box(b"moov", video + trak)


def test_tmcd_rate_read_from_its_sample_description(tmp_path: Path) -> None:
    file = tmp_path / "tc.mov"
    file.write_bytes(movie(tmcd_entry(30000, 1001, 30, flags=1), before=box(b"mdat", bytes(64))))
    found = read_tmcd(file)
    assert found == TmcdRate(30000, 1001, 30, True)
    assert found.rate.label == "29.97 DF"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x00\x00\x08moov",  # an empty movie box
        box(b"moov", b"\xff\xff\xff\xfftrak"),  # a child claiming more than its parent
        movie(tmcd_entry(25, 0, 25)),  # a zero frame duration
        movie(box(b"avc1", bytes(40))),  # no timecode entry
        b"\x00\x00\x00\x01moov" + b"\x00" * 8,  # a 64-bit size of 0
    ],
)
def test_boxes_that_do_not_add_up_have_no_rate(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "odd.mov"
    file.write_bytes(data)
    assert read_tmcd(file) is None


def test_retime_scales_frame_counts_between_whole_multiples() -> None:
    assert retime_timecode("10:00:00:12", rate_for(25), 50) == "10:00:00:24"
    assert retime_timecode("10:00:00:48", rate_for(50), 25) == "10:00:00:24"
    # 29.97 DF to 59.94 DF: the minute's dropped labels double (;00-;01 -> ;00-;03).
    assert retime_timecode("00:00:59;29", rate_for(29.97), 59.94) == "00:00:59;58"
    assert retime_timecode("00:01:00;02", rate_for(29.97), 59.94) == "00:01:00;04"
    # Same count per second (24 and 23.976 both count 24): the label stays.
    assert retime_timecode("01:00:00:05", rate_for(24), 23.976) == "01:00:00:05"


def test_audio_only_start_is_a_millisecond_clock() -> None:
    assert clock_text(1_728_000_000 / 48000) == "10:00:00.000"
    assert clock_text(36_000.0214) == "10:00:00.021"
    source = source_timecode(None, "10:00:00.000")
    assert source is not None and source.origin == "container"
    assert source.start == "10:00:00.000" and source.rate.label == "clock"
    assert source.at(4.2504) == "10:00:04.250"
    override = source_timecode(None, "10:00:00.000", "01:00:00.500")
    assert override is not None and override.at(1.0) == "01:00:01.500"
    # A frame count means nothing without frames: audio-only files keep their elapsed clock.
    assert source_timecode(None, "10:00:00:00") is None
    assert source_timecode(None, None) is None
