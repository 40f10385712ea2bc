"""Benchmark: the cost of the gained peak meter (exact peaks down to −90 dBFS) in the one pass.

Runs the analysis graph of a 1080p25 H.264 + stereo AAC file (benchmarks/.cache, shared with
bench_check.py) three ways, alternating, and prints the median wall and CPU time of each:
  floor  ``ffmpeg -i F -f null -``;
  before one ebur128 meter measuring loudness and peaks (``peak=true+sample``, 3-decimal linear);
  after  loudness meter without peaks + a ``volume=100dB`` branch whose meter gives the peaks.

    .venv/bin/python benchmarks/bench_peaks.py [--minutes 1] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

from bench_check import Run, make_file, measure

from kickflow.engine import options_for
from kickflow.media import graph
from kickflow.media.binaries import available_filters, find_ffmpeg
from kickflow.media.probing import ProbeLimits, probe
from kickflow.profiles import load_profile

ORIGINAL_CHAINS = graph._audio_chains


def _single_meter(*args: object, **kwargs: object) -> list[tuple[graph.Branch, str]]:
    """The graph as it was: the loudness meter also measured the peaks; no peaks branch."""
    chains = ORIGINAL_CHAINS(*args, **kwargs)  # type: ignore[arg-type]
    return [
        (b, "ebur128=metadata=1:peak=true+sample" if b.name == "loudness" else chain)
        for b, chain in chains
        if b.name != "peaks"
    ]


def _args(path: Path, work: Path, ffmpeg: str, before: bool) -> list[str]:
    media = probe(path, path.stat().st_size, ProbeLimits())
    options = options_for(load_profile("ebu-r128"))
    filters = available_filters(ffmpeg)
    if before:
        with mock.patch.object(graph, "_audio_chains", _single_meter):
            plan = graph.build_plan(media, path, work, options, filters)
    else:
        plan = graph.build_plan(media, path, work, options, filters)
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *plan.args]


def _measure(cmd: list[str]) -> Run:
    """``measure`` that also insists on exit 0 (FFmpeg's exit 1 is a broken graph here)."""
    done = subprocess.run([*cmd[:1], "-v", "quiet", "-t", "0.1", *cmd[1:]], check=False)
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(cmd)}")
    return measure(cmd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    path = make_file(ffmpeg, args.minutes)
    runs: dict[str, list[Run]] = {"floor": [], "before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="bench-peaks-") as tmp:
        work = Path(tmp)
        commands = {
            "floor": [ffmpeg, "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "null", "-"],
            "before": _args(path, work, ffmpeg, before=True),
            "after": _args(path, work, ffmpeg, before=False),
        }
        for _ in range(args.runs):
            for name, cmd in commands.items():
                runs[name].append(_measure(cmd))
    print(f"file: {path.name}, median of {args.runs} alternating runs", file=sys.stderr)
    print(f"{'':<8} {'wall s':>8} {'cpu s':>8}")
    for name, done in runs.items():
        wall = statistics.median(r.wall_s for r in done)
        cpu = statistics.median(r.cpu_s for r in done)
        print(f"{name:<8} {wall:8.2f} {cpu:8.2f}")


if __name__ == "__main__":
    main()
