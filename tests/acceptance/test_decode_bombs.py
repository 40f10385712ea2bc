"""Decode bombs: refused before decoding, with the memory of every process involved measured.

``kickflow check`` runs under a small wrapper that reports the largest resident set of all its
descendants (``RUSAGE_CHILDREN``: the CLI, the probe child and FFmpeg), so each case prints the
bound it was held to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_media import MediaFactory

# Resident-set bound for a refused bomb: the CLI and the probe child, no decoded picture.
REFUSED_RSS_MB = 300
MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(done.returncode, round(peak, 1))
sys.stdout.write(done.stderr)
"""


def check_measured(path: Path, **env: str) -> tuple[int, float, str]:
    """``kickflow check PATH``: exit code, peak RSS in MB of all its processes, stderr."""
    argv = [sys.executable, "-c", MEASURE, sys.executable, "-m", "kickflow", "check", str(path)]
    done = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **env}, timeout=180, check=False
    )
    head, _, stderr = done.stdout.partition("\n")
    code, peak = head.split()
    print(f"{path.name}: exit {code}, peak RSS {peak} MB, {stderr.strip()}")
    return int(code), float(peak), stderr


def one_sentence(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kickflow: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def png_bomb(make_media: MediaFactory) -> Path:
    """A 16000 × 16000 PNG of under a megabyte (1 GB of pixels once decoded)."""
    path = make_media(
        "bomb-16000.png", ["-f", "lavfi", "-i", "color=black:s=16000x16000", "-frames:v", "1"]
    )
    assert path.stat().st_size < 1024 * 1024
    return path


@pytest.fixture(scope="module")
def huge_frames(make_media: MediaFactory) -> Path:
    """One 9000 × 9000 MJPEG frame in Matroska: a real container, an oversized picture."""
    return make_media(
        "huge-9000.mkv",
        ["-f", "lavfi", "-i", "color=gray:s=9000x9000", "-frames:v", "1", "-c:v", "mjpeg"],
    )


def lying_flac(path: Path, tone: Path, declared_seconds: float) -> Path:
    """``tone`` (8 kHz FLAC) with its STREAMINFO claiming ``declared_seconds`` of samples."""
    data = bytearray(tone.read_bytes())
    assert data[:4] == b"fLaC"
    # STREAMINFO starts at byte 8; its total-samples field is the low 36 bits of bytes 18–25.
    word = int.from_bytes(data[18:26], "big")
    word = (word & ~((1 << 36) - 1)) | int(declared_seconds * 8000)
    data[18:26] = word.to_bytes(8, "big")
    path.write_bytes(data)
    return path


def test_png_bomb_is_refused_without_decoding(png_bomb: Path) -> None:
    code, peak, stderr = check_measured(png_bomb)
    assert code == 2
    assert "PNG image" in one_sentence(stderr)
    assert peak < REFUSED_RSS_MB


def test_oversized_pictures_are_refused_before_decoding(huge_frames: Path) -> None:
    code, peak, stderr = check_measured(huge_frames)
    assert code == 2
    assert "over the limit of 37,748,736 pixels" in one_sentence(stderr)
    assert peak < REFUSED_RSS_MB


def test_the_probe_runs_under_its_own_memory_limit(png_bomb: Path) -> None:
    # With the pixel cap lifted, opening the PNG decodes a gigabyte of pixels. Under the probe's
    # memory limit that decode fails inside the child and the file is still refused; with a
    # generous limit the same probe grows by the decoded picture, which shows the limit held.
    lifted = {"KICKFLOW_MAX_FRAME_PIXELS": "1000000000"}
    code, capped, stderr = check_measured(png_bomb, **lifted, KICKFLOW_PROBE_MAX_MEMORY_MB="200")
    assert code == 2
    assert "PNG image" in one_sentence(stderr)
    assert capped < REFUSED_RSS_MB
    code, generous, _ = check_measured(png_bomb, **lifted, KICKFLOW_PROBE_MAX_MEMORY_MB="4096")
    assert code == 2
    assert generous > 2 * capped


def test_too_many_channels_and_streams_are_refused(make_media: MediaFactory) -> None:
    ten = make_media(
        "ten-channels.wav",
        ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=5.1.4", "-t", "1", "-c:a", "pcm_s16le"],
    )
    code, _, stderr = check_measured(ten, KICKFLOW_MAX_CHANNELS="8")
    assert code == 2 and "10 channels" in one_sentence(stderr)
    tones = [a for i in range(5) for a in ("-f", "lavfi", "-i", f"sine=f={300 + i}:d=1")]
    maps = [a for i in range(5) for a in ("-map", str(i))]
    five = make_media("five-tracks.mka", [*tones, *maps, "-c:a", "flac"])
    code, _, stderr = check_measured(five, KICKFLOW_MAX_STREAMS="4")
    assert code == 2 and "5 streams" in one_sentence(stderr)


def test_declared_duration_must_fit_the_file(tmp_path: Path, make_media: MediaFactory) -> None:
    tone = make_media("tone-8k.flac", ["-f", "lavfi", "-i", "sine=d=1:r=8000", "-c:a", "flac"])
    code, _, stderr = check_measured(lying_flac(tmp_path / "forever.flac", tone, 30 * 3600))
    assert code == 2 and "over the limit of 24.0 h" in one_sentence(stderr)
    code, _, stderr = check_measured(lying_flac(tmp_path / "tiny.flac", tone, 20 * 3600))
    assert code == 2 and "which no real programme does" in one_sentence(stderr)


def test_ffmpeg_runs_under_its_memory_cap(huge_frames: Path) -> None:
    # Probe allowed to decode the picture, FFmpeg's own cap (an address-space limit) stops
    # the decode: a clear failure, never the machine's memory.
    env = {"KICKFLOW_MAX_FRAME_PIXELS": "1000000000", "KICKFLOW_FFMPEG_MAX_MEMORY_MB": "300"}
    code, peak, stderr = check_measured(huge_frames, **env)
    assert code == 2, stderr
    one_sentence(stderr)
    assert peak < 700
