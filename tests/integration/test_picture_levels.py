"""The reduced picture's levels, measured on the frames FFmpeg writes to a pipe, against
FFmpeg's own ``signalstats`` (which measured them before) on the same frames."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kickflow.media.binaries import find_ffmpeg
from kickflow.media.metadata import parse_metadata_print
from kickflow.media.picture import COLUMNS, PictureReader
from kickflow.media.pipes import open_pipe

KEYS = {
    "y_min": "YMIN", "y_max": "YMAX", "u_min": "UMIN", "u_max": "UMAX",
    "v_min": "VMIN", "v_max": "VMAX", "out_of_range": "BRNG",
}  # fmt: skip


def _source(pix_fmt: str) -> list[str]:
    # Test pattern with strong noise: Y, Cb and Cr all leave the legal range here and there.
    # Noise is made at 8 bits; a deeper format scales it, so its range is crossed as well.
    graph = f"testsrc2=size=480x270:rate=5:d=2,noise=alls=70:allf=t:all_seed=7,format={pix_fmt}"
    return ["-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", graph]


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p", "yuv444p", "yuv422p10le"])
def test_picture_levels_match_signalstats(pix_fmt: str, tmp_path: Path) -> None:
    ffmpeg = find_ffmpeg().path
    printed = "signalstats=stat=brng,metadata=mode=print:file=reference.txt"
    subprocess.run([ffmpeg, *_source(pix_fmt), "-vf", printed, "-f", "null", "-"],
                   check=True, cwd=tmp_path)  # fmt: skip
    reference = parse_metadata_print((tmp_path / "reference.txt").read_text())

    read_end, write_end = open_pipe()
    reader = PictureReader(read_end, (480, 270), pix_fmt)
    try:
        raw = [
            "-fps_mode",
            "passthrough",
            "-c:v",
            "rawvideo",
            "-f",
            "rawvideo",
            f"pipe:{write_end}",
        ]
        subprocess.run([ffmpeg, *_source(pix_fmt), *raw], check=True, pass_fds=(write_end,))
    finally:
        os.close(write_end)
    measured = reader.result()

    assert measured.frames == len(reference) == 10
    assert measured.bits == (10 if "10" in pix_fmt else 8)
    crossed = 0
    for frame, row in zip(reference, measured.rows.tolist(), strict=True):
        for column, value in zip(COLUMNS, row, strict=True):
            expected = frame.number(f"lavfi.signalstats.{KEYS[column]}")
            assert expected is not None
            assert value == pytest.approx(expected, abs=1e-6), (column, frame.t)
        crossed += row[-1] > 0.01
    assert crossed == 10  # the comparison covers out-of-range pixels, not only clean frames


def test_a_legal_picture_has_no_pixel_out_of_range(tmp_path: Path) -> None:
    ffmpeg = find_ffmpeg().path
    graph = "color=c=gray:size=480x270:rate=5:d=1,format=yuv420p"
    read_end, write_end = open_pipe()
    reader = PictureReader(read_end, (480, 270), "yuv420p")
    try:
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", graph,
                        "-c:v", "rawvideo", "-f", "rawvideo", f"pipe:{write_end}"],
                       check=True, pass_fds=(write_end,))  # fmt: skip
    finally:
        os.close(write_end)
    rows = reader.result().rows
    assert rows.shape == (5, len(COLUMNS))
    assert (rows[:, -1] == 0).all() and (rows[:, 0] == rows[:, 1]).all()
