"""Which planar format the reduced picture is measured in, and what the reader refuses."""

from __future__ import annotations

import os

import pytest

from kickflow.media.model import VideoStream
from kickflow.media.picture import PictureReader, analysed_format
from kickflow.media.pipes import open_pipe


@pytest.mark.parametrize(
    ("pix_fmt", "bits", "expected"),
    [
        ("yuv420p", 8, "yuv420p"),
        ("yuv422p10le", 10, "yuv422p10le"),
        ("yuvj420p", 8, "yuv420p"),
        ("nv12", 8, "yuv420p"),
        ("p010le", 10, "yuv420p10le"),
        ("uyvy422", 8, "yuv422p"),
        ("yuv422p12le", 12, "yuv422p10le"),
        ("yuv420p12le", 12, "yuv420p12le"),
        ("gbrp10le", 10, "yuv444p10le"),
        ("rgb24", 8, "yuv444p"),
        ("gray", 8, "yuv420p"),
        (None, None, "yuv420p"),
    ],
)
def test_the_picture_is_measured_in_the_nearest_planar_format(
    pix_fmt: str | None, bits: int | None, expected: str
) -> None:
    stream = VideoStream(0, "h264", None, 1920, 1080, 25.0, 25.0, False, "progressive",
                         pix_fmt, bits, None, None, None, None, 0.0, None)  # fmt: skip
    assert analysed_format(stream) == expected


def test_a_picture_reader_refuses_sizes_its_chroma_cannot_split() -> None:
    read_end, write_end = open_pipe()
    try:
        with pytest.raises(ValueError, match="even sizes"):
            PictureReader(read_end, (479, 270), "yuv420p")
    finally:
        os.close(read_end)
        os.close(write_end)
