"""Media fixtures generated with FFmpeg lavfi sources (seconds long, never committed)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from kickflow.media.binaries import find_ffmpeg

MediaFactory = Callable[[str, list[str]], Path]

# Chroma pulled in from testsrc2's fully saturated colours, so the clean picture is legal.
LEGAL_PICTURE = "lutyuv=u='(val-128)*0.8+128':v='(val-128)*0.8+128'"
# Two different tones: a real stereo programme, not mono copied to both channels.
STEREO_TONES = "aevalsrc=0.1*sin(2*PI*440*t)|0.1*sin(2*PI*660*t):s=48000"
H264_AAC = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]


def ffmpeg_binary() -> str:
    return find_ffmpeg().path


def run_ffmpeg_cli(args: list[str]) -> None:
    """Run FFmpeg for a fixture, failing the test with FFmpeg's message if it fails."""
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def av_clip(
    target: Path,
    seconds: float,
    *,
    vf: str = LEGAL_PICTURE,
    audio: str = STEREO_TONES,
    size: str = "640x360",
    rate: int = 25,
    codec_args: list[str] | None = None,
) -> Path:
    """A testsrc2 clip with stereo audio; ``vf`` and ``audio`` insert defects."""
    run_ffmpeg_cli(
        ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:d={seconds}",
         "-f", "lavfi", "-i", f"{audio}:d={seconds}" if "aevalsrc" in audio else audio,
         "-vf", vf, *(codec_args or H264_AAC), "-shortest", str(target)]
    )  # fmt: skip
    return target


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def make_media(media_dir: Path) -> MediaFactory:
    """Generate ``name`` once per session from raw FFmpeg arguments (output path appended)."""

    def make(name: str, args: list[str]) -> Path:
        target = media_dir / name
        if not target.exists():
            run_ffmpeg_cli([*args, str(target)])
        return target

    return make


@pytest.fixture(scope="session")
def clean_clip(media_dir: Path) -> Path:
    """8 s of legal 640x360p25 H.264 with two-tone stereo AAC: no defects at all."""
    target = media_dir / "clean.mp4"
    return target if target.exists() else av_clip(target, 8)


@pytest.fixture(scope="session")
def short_clip(media_dir: Path) -> Path:
    """3 s clean clip for job-system tests that need real but quick media."""
    target = media_dir / "short.mp4"
    return target if target.exists() else av_clip(target, 3, size="320x240")
