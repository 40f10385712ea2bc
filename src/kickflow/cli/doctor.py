"""``kickflow doctor`` (what is in use) and ``kickflow demo`` (a sample file, checked)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer

from kickflow import __version__
from kickflow.media.binaries import available_filters, binary_version, find_ffmpeg, find_ffprobe

ANALYSIS_FILTERS = ("ebur128", "astats", "aresample", "blackdetect", "freezedetect",
                    "idet", "cropdetect")  # fmt: skip
SAMPLE_SECONDS = 30


def doctor() -> None:
    """Print which FFmpeg, probe library, database and profiles are in use."""
    import av

    from kickflow.config import get_settings
    from kickflow.profiles import builtin_profile_names

    settings = get_settings()
    ffmpeg = find_ffmpeg(settings.ffmpeg)
    filters = available_filters(ffmpeg.path)
    missing = [f for f in ANALYSIS_FILTERS if f not in filters]
    ffprobe = find_ffprobe(settings.ffprobe)
    filter_note = "all analysis filters present" if not missing else "missing " + ", ".join(missing)
    probe_note = f"{binary_version(ffprobe.path)} ({ffprobe.path})" if ffprobe else "not used"
    lines = [
        f"kickflow   {__version__}",
        f"ffmpeg     {binary_version(ffmpeg.path)}  ({ffmpeg.source}: {ffmpeg.path})",
        f"filters    {filter_note}",
        f"ffprobe    {probe_note}",
        f"probe      PyAV {av.__version__} (FFmpeg libraries {av.ffmpeg_version_info})",
        f"database   {settings.resolved_database_url()}",
        f"data dir   {settings.data_dir.resolve()}",
        f"profiles   {', '.join(builtin_profile_names())}",
    ]  # fmt: skip
    typer.echo("\n".join(lines))


def make_sample(target: Path, seconds: int = SAMPLE_SECONDS) -> Path:
    """A short 720p25 H.264 + stereo AAC file with a black hold and a silent gap in it."""
    from kickflow.config import get_settings

    target.parent.mkdir(parents=True, exist_ok=True)
    binary = find_ffmpeg(get_settings().ffmpeg).path
    video = f"testsrc2=size=1280x720:rate=25:d={seconds}"
    tones = "0.1*sin(2*PI*440*t)*gt(mod(t\\,10)\\,0.5)|0.1*sin(2*PI*660*t)"
    audio = f"aevalsrc={tones}:s=48000:d={seconds}"
    subprocess.run(
        [binary, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
         "-vf", "drawbox=c=black:t=fill:enable='between(t,12,15)'",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "192k", "-shortest", str(target)],
        check=True,
    )  # fmt: skip
    return target


def demo(
    profile: Annotated[str, typer.Option("--profile", "-p", help="Profile to check with.")] = "web",
) -> None:
    """Generate a sample file with FFmpeg and check it (what `make run` shows)."""
    from kickflow.cli.check import check
    from kickflow.config import get_settings

    sample = get_settings().data_dir / "samples" / "kickflow-sample.mp4"
    if not sample.exists():
        typer.echo(f"Generating a {SAMPLE_SECONDS} s sample file: {sample}")
        make_sample(sample)
    check(sample, profile=profile, json_out=None, html_out=None, strict=False, verbose=False)


def register(app: typer.Typer) -> None:
    app.command()(doctor)
    app.command()(demo)
