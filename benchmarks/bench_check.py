"""Benchmark: `kickflow check` against the decode floor and against one pass per analysis.

Generates (and caches) 1080p25 H.264 + stereo AAC files, then measures in one run, side by side:
  (a) decode only: ``ffmpeg -i F -f null -`` with the same binary — the floor;
  (b) ``kickflow check F`` with every check;
  (c) the naive way: one FFmpeg pass per analysis filter.
Prints wall time, CPU time and peak RSS of each, and the ratios b/a and c/b; then peak RSS of
(b) on a short and a long file, to show memory stays flat with length. ``--clip-tracks N`` also
measures, the same way, a 20-s clip with N audio tracks checked with the dubbing profile
(``clip``, also used by benchmarks/bench_tracks.py; its decode floor decodes every stream).

    .venv/bin/python benchmarks/bench_check.py [--minutes 10] [--short-minutes 2] [--skip-naive]
        [--runs 3] [--against DIR] [--clip-tracks 3]

(a) and (b) run ``--runs`` times each, alternating, and the medians are compared: on a shared
machine one run of either can be 15 % off. ``--against DIR`` also runs the check of another
checkout (``git worktree add DIR <commit>``) in the same rotation, to compare a change with
what came before it on the same machine at the same time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kickflow.media.binaries import find_ffmpeg

CACHE = Path(__file__).resolve().parent / ".cache"
TONES = "0.1*sin(2*PI*440*t)|0.1*sin(2*PI*660*t)"
STEREO = "aevalsrc=0.1*sin(2*PI*{f}*t)|0.1*sin(2*PI*{g}*t):s=48000"
SURROUND = "aevalsrc=" + "|".join(["0.05*sin(2*PI*{f}*t)"] * 6) + ":s=48000:c=5.1"
NAIVE_FILTERS = [
    ("-af", "ebur128=peak=true"),
    ("-af", "silencedetect=n=-60dB:d=1"),
    ("-af", "astats=metadata=1:reset=1"),
    ("-af", "aphasemeter=video=0"),
    ("-vf", "blackdetect=d=0.5"),
    ("-vf", "freezedetect=d=2"),
    ("-vf", "signalstats=stat=brng"),
    ("-vf", "idet"),
    ("-vf", "cropdetect"),
]


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float

    def __add__(self, other: Run) -> Run:
        return Run(
            self.wall_s + other.wall_s,
            self.cpu_s + other.cpu_s,
            max(self.peak_rss_mb, other.peak_rss_mb),
        )


def median_run(runs: list[Run]) -> Run:
    """The median wall and CPU time of repeated runs, and the largest peak RSS."""
    return Run(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        max(r.peak_rss_mb for r in runs),
    )


def measure(cmd: list[str]) -> Run:
    """Wall time, CPU (user+sys, with children) and peak RSS of one command."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # kickflow check exits 1 for a failed verdict
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"command failed ({code}): {' '.join(cmd)}\n{err}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def make_file(ffmpeg: str, minutes: float) -> Path:
    CACHE.mkdir(exist_ok=True)
    target = CACHE / f"bench-{minutes:g}min-1080p25.mp4"
    if target.exists():
        return target
    seconds = int(minutes * 60)
    print(f"generating {target.name} (one-off, cached)…", file=sys.stderr)
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:d={seconds}",
         "-f", "lavfi", "-i", f"aevalsrc={TONES}:s=48000:d={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "192k", str(target) + ".part.mp4"],
        check=True,
    )  # fmt: skip
    Path(str(target) + ".part.mp4").rename(target)
    return target


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


def decode_cmd(ffmpeg: str, path: Path, every_stream: bool) -> list[str]:
    """The floor: decode ``path`` to nothing (its first video and audio, or every stream)."""
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path)]
    return [*cmd, *(["-map", "0"] if every_stream else []), "-f", "null", "-"]


def kickflow_cmd(path: Path, tree: Path | None = None, profile: str = "ebu-r128") -> list[str]:
    """``kickflow check`` of this checkout, or of the one at ``tree`` (its ``src`` first)."""
    cmd = [sys.executable, "-m", "kickflow", "check", str(path), "--json", os.devnull]
    cmd += ["--profile", profile]
    if tree is None:
        return cmd
    return ["env", f"PYTHONPATH={tree.resolve() / 'src'}", *cmd]


def naive(ffmpeg: str, path: Path) -> Run:
    total = Run(0.0, 0.0, 0.0)
    for flag, graph in NAIVE_FILTERS:
        total = total + measure(
            [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), flag, graph,
             "-f", "null", "-"]
        )  # fmt: skip
    return total


def row(name: str, run: Run) -> str:
    return f"{name:<34} {run.wall_s:9.1f} {run.cpu_s:9.1f} {run.peak_rss_mb:10.0f}"


def compare(
    ffmpeg: str, path: Path, runs: int, against: Path | None, profile: str, every_stream: bool
) -> tuple[Run, Run]:
    """Decode floor and check of ``path``, alternating, medians printed; (floor, check)."""
    floor = decode_cmd(ffmpeg, path, every_stream)
    decodes, checks, earlier = [], [], []
    for _ in range(max(1, runs)):
        decodes.append(measure(floor))
        checks.append(measure(kickflow_cmd(path, profile=profile)))
        if against is not None:
            earlier.append(measure(kickflow_cmd(path, against, profile)))
    decode, check = median_run(decodes), median_run(checks)
    print(f"{'file: ' + path.name:<34} {'wall s':>9} {'cpu s':>9} {'peak MB':>10}")
    print(row("(a) decode only", decode))
    print(row(f"(b) kickflow check -p {profile}", check))
    print(f"b/a wall {check.wall_s / decode.wall_s:.2f}   cpu {check.cpu_s / decode.cpu_s:.2f}")
    if against is not None:
        before = median_run(earlier)
        print(row(f"(b') check of {against.name}", before))
        wall, cpu = before.wall_s / decode.wall_s, before.cpu_s / decode.cpu_s
        print(f"b'/a wall {wall:.2f}   cpu {cpu:.2f}")
    return decode, check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--short-minutes", type=float, default=2.0)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout whose check runs too")
    parser.add_argument("--clip-tracks", type=int, default=0, help="also a 20-s clip, N tracks")
    args = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    if args.clip_tracks:
        compare(ffmpeg, clip(ffmpeg, args.clip_tracks, 20), args.runs, args.against, "dubbing",
                every_stream=True)  # fmt: skip
    if args.minutes <= 0:
        return
    long_file = make_file(ffmpeg, args.minutes)
    short_file = make_file(ffmpeg, args.short_minutes)
    _, check = compare(ffmpeg, long_file, args.runs, args.against, "ebu-r128", every_stream=False)
    if not args.skip_naive:
        slow = naive(ffmpeg, long_file)
        print(row("(c) one pass per analysis", slow))
        print(f"c/b wall {slow.wall_s / check.wall_s:.2f}   cpu {slow.cpu_s / check.cpu_s:.2f}")
    short = measure(kickflow_cmd(short_file))
    print(row(f"(b) on {args.short_minutes:g} min", short))
    print(f"peak RSS long/short {check.peak_rss_mb / short.peak_rss_mb:.2f}")


if __name__ == "__main__":
    main()
