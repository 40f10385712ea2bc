"""Benchmark: start-up time of the CLI, side by side with the interpreter's own floor.

Runs each N times and prints the median and the best:
  (a) ``python -c pass`` — the floor no Python CLI can beat;
  (b) ``kickflow --help`` and (c) ``kickflow check --help``;
  (d) ``kickflow check F``: the time from process start to the spawn of the first FFmpeg
      process, and to the spawn of the decoding FFmpeg (the one-pass analysis);
  (e) the same entered past the console script, so that the probe child is not started ahead
      of the CLI's imports (``kickflow.media.probe_process``): the cold path, side by side.

(d) is measured without strace: ``KICKFLOW_FFMPEG`` points at a wrapper script that appends
the wall-clock time it was exec'd (and its arguments' first flag) to a log, then execs the real
FFmpeg. The target is ≤ 0.3 s for (b) and for (d) to the decoding FFmpeg.

    .venv/bin/python benchmarks/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kickflow.media.binaries import find_ffmpeg

KICKFLOW = [sys.executable, "-m", "kickflow"]
# The same CLI entered past its console script: no probe child started ahead (the cold path).
COLD = [
    sys.executable,
    "-c",
    "import sys; from kickflow.cli.main import run; sys.argv[0] = 'kickflow'; run()",
]
WRAPPER = """#!/bin/sh
echo "$(date +%s.%N) $*" >> "{log}"
exec "{real}" "$@"
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one run, output discarded. CPU time barely moves
    with the machine's load, so it is the fairer number on a busy machine."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime


def make_clip(path: Path, ffmpeg: str) -> None:
    """A 2-s 320×240 clip with a tone: the check's own work is irrelevant here."""
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:d=2",
         "-f", "lavfi", "-i", "sine=f=440:d=2", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip


def spawn_times(
    clip: Path, wrapper: Path, log: Path, cli: list[str] = KICKFLOW
) -> tuple[float, float]:
    """Seconds from process start to the first FFmpeg exec and to the decoding FFmpeg's exec."""
    log.write_text("")
    env = {**os.environ, "KICKFLOW_FFMPEG": str(wrapper), "KICKFLOW_DATA_DIR": str(log.parent)}
    started = time.time()
    subprocess.run(
        [*cli, "check", str(clip)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    lines = [line.split(" ", 1) for line in log.read_text().splitlines() if line]
    if not lines:
        raise SystemExit("the wrapper FFmpeg was never run: is KICKFLOW_FFMPEG honoured?")
    first = float(lines[0][0]) - started
    decodes = [float(stamp) for stamp, args in lines if "-progress" in args]
    return first, (decodes[0] - started) if decodes else float("nan")


def row(label: str, samples: list[float]) -> str:
    return f"{label:<44} median {statistics.median(samples):6.3f} s   best {min(samples):6.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    real = find_ffmpeg().path
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip, log, wrapper = work / "clip.mp4", work / "spawns.log", work / "ffmpeg"
        make_clip(clip, real)
        wrapper.write_text(WRAPPER.format(log=log, real=real))
        wrapper.chmod(0o755)
        results: dict[str, list[float]] = {}
        commands = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "kickflow --help": [*KICKFLOW, "--help"],
            "kickflow check --help": [*KICKFLOW, "check", "--help"],
        }
        for _ in range(args.runs):  # interleaved, so that load on the machine hits all alike
            for label, cmd in commands.items():
                wall, cpu = timed(cmd)
                results.setdefault(label, []).append(wall)
                results.setdefault(f"{label} [CPU]", []).append(cpu)
            first, decode = spawn_times(clip, wrapper, log)
            results.setdefault("kickflow check: start -> first FFmpeg exec", []).append(first)
            results.setdefault("kickflow check: start -> decoding FFmpeg exec", []).append(decode)
            _, cold = spawn_times(clip, wrapper, log, COLD)
            results.setdefault("  the same, probe child not started ahead", []).append(cold)
    print(f"{args.runs} runs each, {sys.executable}")
    for label, samples in results.items():
        print(row(label, samples))


if __name__ == "__main__":
    main()
