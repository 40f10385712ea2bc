"""Benchmark: what probing in a memory-limited child costs next to probing in-process.

Generates a 10 s 1080p25 H.264 + AAC clip, then alternates the two probes (``--rounds`` each,
interleaved so machine load hits both alike) and prints the median times and their ratio, and
the peak resident memory of each on a 16000 × 16000 PNG (the decode bomb the child contains).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kickflow.media.binaries import find_ffmpeg
from kickflow.media.probe import probe_in_process
from kickflow.media.probing import ProbeLimits, probe

BOMB_RSS = """
import resource, sys
from pathlib import Path
from kickflow.media.probe import probe_in_process
try:
    probe_in_process(Path(sys.argv[1]), 1, allow_raw_pcm=False, max_pixels=10**9)
except Exception:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def make(ffmpeg: str, target: Path, args: list[str]) -> Path:
    subprocess.run([ffmpeg, "-v", "error", "-y", *args, str(target)], check=True)
    return target


def in_process(path: Path, size: int, max_pixels: int) -> None:
    probe_in_process(path, size, allow_raw_pcm=False, max_pixels=max_pixels)


def timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    ffmpeg = find_ffmpeg().path
    with tempfile.TemporaryDirectory() as tmp:
        clip_args = ["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=10", "-f", "lavfi",
                     "-i", "sine=d=10", "-c:v", "libx264", "-preset", "ultrafast"]  # fmt: skip
        clip = make(ffmpeg, Path(tmp) / "clip.mp4", clip_args)
        bomb_args = ["-f", "lavfi", "-i", "color=black:s=16000x16000", "-frames:v", "1"]
        bomb = make(ffmpeg, Path(tmp) / "bomb.png", bomb_args)
        size, limits = clip.stat().st_size, ProbeLimits()
        inproc, child = [], []
        for _ in range(rounds):
            inproc.append(timed(in_process, clip, size, limits.max_frame_pixels))
            child.append(timed(probe, clip, size, limits))
        a, b = statistics.median(inproc), statistics.median(child)
        print(f"probe of a 1080p clip, median of {rounds}: in-process {a * 1000:.1f} ms,")
        print(f"  child {b * 1000:.1f} ms: child/in-process {b / a:.1f}×, +{(b - a) * 1000:.0f} ms")
        uncapped = subprocess.run([sys.executable, "-c", BOMB_RSS, str(bomb)], capture_output=True,
                                  text=True, check=True).stdout.strip()  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started, outcome = time.perf_counter(), "accepted"
        try:
            probe(bomb, bomb.stat().st_size, limits)
        except Exception as exc:  # the refusal is the expected outcome
            outcome = type(exc).__name__
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"16000x16000 PNG: uncapped in-process probe peak RSS {float(uncapped):.0f} MB;")
        print(f"  child probe: {outcome} in {time.perf_counter() - started:.2f} s, "
              f"this process {before:.0f} MB before, {after:.0f} MB after")  # fmt: skip


if __name__ == "__main__":
    main()
