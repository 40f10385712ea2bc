"""Benchmark: the thumbnails run (one FFmpeg process, one seek per picture) on a 60 s 1080p25
H.264 clip, against the decode floor (``ffmpeg -i F -map 0:v -f null -``) and the analysis.

Two encodings of the same picture: x264's default keyframe interval (250 frames, 10 s: the
worst case for seeking, every seek decodes up to 10 s) and a 2 s one (typical of deliveries).
Prints wall time and CPU time (user+sys of the FFmpeg children) of each run.

    .venv/bin/python benchmarks/bench_thumbnails.py [--seconds 60] [--pictures 1,8,24]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from kickflow.config import Settings
from kickflow.engine import check_file, limits_for
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.thumbnails import FrameSource, extract_frames
from kickflow.profiles import load_profile

CACHE = Path(__file__).resolve().parent / ".cache"
MOV = "mov,mp4,m4a,3gp,3g2,mj2"
TONES = "aevalsrc=0.1*sin(2*PI*440*t)|0.1*sin(2*PI*660*t):s=48000"


def clip(seconds: int, keyint: int | None) -> Path:
    """A cached 1080p25 clip with stereo audio and black from 20 s to 23 s."""
    name = f"thumbs-{seconds}s-{'gop' + str(keyint) if keyint else 'default'}.mp4"
    target = CACHE / name
    if target.exists():
        return target
    CACHE.mkdir(exist_ok=True)
    x264 = ["-x264-params", f"keyint={keyint}"] if keyint else []
    subprocess.run(
        [find_ffmpeg().path, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:d={seconds}",
         "-f", "lavfi", "-i", f"{TONES}:d={seconds}",
         "-vf", "drawbox=t=fill:c=black:enable='between(t,20,23)'",
         "-c:v", "libx264", "-preset", "veryfast", *x264, "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(target)],
        check=True,
    )  # fmt: skip
    return target


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(what: str, run: Callable[[], object]) -> None:
    cpu, started = children_cpu(), time.monotonic()
    run()
    wall, used = time.monotonic() - started, children_cpu() - cpu
    print(f"  {what:<34} wall {wall:6.2f} s   cpu {used:6.2f} s")


def decode_floor(path: Path) -> None:
    cmd = [find_ffmpeg().path, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v"]
    subprocess.run([*cmd, "-f", "null", "-"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--pictures", default="1,8,24")
    args = parser.parse_args()
    settings = Settings()
    binary = find_ffmpeg().path
    counts = [int(n) for n in args.pictures.split(",")]
    for keyint in (None, 50):
        path = clip(args.seconds, keyint)
        print(f"{path.name} ({path.stat().st_size / 1e6:.0f} MB)")
        timed("decode floor (video)", partial(decode_floor, path))
        timed("analysis (kickflow check)", partial(check_file, path, load_profile("ebu-r128")))
        source = FrameSource(path, MOV, 0, 1920, 1080, 0.04)
        for n in counts:
            span = args.seconds - 2.0
            times = [1.0 + span * k / max(1, n - 1) for k in range(n)] if n > 1 else [21.3]
            with tempfile.TemporaryDirectory() as work:
                take = partial(extract_frames, binary, source, times, Path(work))
                timed(f"thumbnails: {n} picture(s)", partial(take, limits=limits_for(settings)))


if __name__ == "__main__":
    main()
