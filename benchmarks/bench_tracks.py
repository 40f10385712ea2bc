"""Benchmark: `kickflow check` cost as the audio track count grows (1, 3, 8 … tracks).

Generates (and caches) a 20-s 1080p25 H.264 clip, then copies of it with N stereo AAC tracks
(5.1 for every third track, like a dubbing delivery). For each N, in one run side by side: the
decode floor (``ffmpeg -i F -f null -``, same binary, every stream decoded), ``kickflow check``
with the dubbing profile, their ratio, and peak RSS of each — the curve shows whether memory
and time stay flat with the track count.

    .venv/bin/python benchmarks/bench_tracks.py [--tracks 1 3 8] [--seconds 20] [--runs 3]
        [--against DIR]

Each measurement runs ``--runs`` times, alternating, and the medians are printed (one run on a
shared machine can be 15 % off). ``--against DIR`` also runs the check of another checkout
(``git worktree add DIR <commit>``) in the same rotation: a change and what came before it,
measured side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kickflow.media.binaries import find_ffmpeg

CACHE = Path(__file__).resolve().parent / ".cache"
STEREO = "aevalsrc=0.1*sin(2*PI*{f}*t)|0.1*sin(2*PI*{g}*t):s=48000"
SURROUND = "aevalsrc=" + "|".join(["0.05*sin(2*PI*{f}*t)"] * 6) + ":s=48000:c=5.1"


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, children included."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1 = the file failed QC: fine here
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def _ffmpeg(ffmpeg: str, args: list[str]) -> None:
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def clip(ffmpeg: str, tracks: int, seconds: int) -> Path:
    """The cached clip with ``tracks`` audio tracks."""
    CACHE.mkdir(exist_ok=True)
    video = CACHE / f"tracks-video-{seconds}s.mp4"
    if not video.exists():
        src = f"testsrc2=size=1920x1080:rate=25:d={seconds}"
        _ffmpeg(ffmpeg, ["-f", "lavfi", "-i", src, "-c:v", "libx264", "-preset", "veryfast",
                         "-pix_fmt", "yuv420p", str(video)])  # fmt: skip
    target = CACHE / f"tracks-{tracks}-{seconds}s.mp4"
    if target.exists():
        return target
    args = ["-i", str(video)]
    for n in range(tracks):
        wave = (SURROUND if n % 3 == 1 else STEREO).format(f=300 + 50 * n, g=330 + 50 * n)
        args += ["-f", "lavfi", "-i", f"{wave}:d={seconds}"]
    args += ["-map", "0:v"] + [a for n in range(tracks) for a in ("-map", str(n + 1))]
    _ffmpeg(ffmpeg, [*args, "-c:v", "copy", "-c:a", "aac", "-b:a", "192k", str(target)])
    return target


def check_cmd(path: Path, tree: Path | None) -> list[str]:
    """``kickflow check`` with the dubbing profile, of this checkout or of the one at ``tree``."""
    cmd = [sys.executable, "-m", "kickflow", "check", str(path), "--profile", "dubbing"]
    return cmd if tree is None else ["env", f"PYTHONPATH={tree.resolve() / 'src'}", *cmd]


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The median wall time and the largest peak RSS of repeated runs."""
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, nargs="+", default=[1, 3, 8])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout whose check runs too")
    opts = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    header = f"{'tracks':>6} {'decode s':>9} {'check s':>8} {'ratio':>6} {'dec MB':>7}"
    header += f" {'chk MB':>7}"
    if opts.against is not None:
        header += f" {'before s':>9} {'ratio':>6} {'bef MB':>7}"
    print(header)
    for tracks in opts.tracks:
        path = clip(ffmpeg, tracks, opts.seconds)
        floors, checks, befores = [], [], []
        for _ in range(max(1, opts.runs)):
            floors.append(measure([ffmpeg, "-nostdin", "-i", str(path), "-map", "0",
                                   "-f", "null", "-"]))  # fmt: skip
            checks.append(measure(check_cmd(path, None)))
            if opts.against is not None:
                befores.append(measure(check_cmd(path, opts.against)))
        (floor, floor_mb), (check, check_mb) = medians(floors), medians(checks)
        line = (
            f"{tracks:>6} {floor:>9.2f} {check:>8.2f} {check / floor:>6.2f} "
            f"{floor_mb:>7.0f} {check_mb:>7.0f}"
        )
        if befores:
            before, before_mb = medians(befores)
            line += f" {before:>9.2f} {before / floor:>6.2f} {before_mb:>7.0f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
