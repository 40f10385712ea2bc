"""Benchmark: what shot-change detection (scdet on every frame) adds to the one analysis run.

On a cached 1080p25 H.264 + AAC file (1 min by default), interleaved ``--repeat`` times, the
real analysis plan (``build_plan`` with the ebu-r128 profile's options) run by FFmpeg:
  (a) decode only: ``ffmpeg -i F -f null -`` — the floor;
  (b) the analysis run, PSE on (the shipped ebu-r128), no shot changes;
  (c) the same with shot changes: scdet sharing the PSE branch's 128x72 downscale;
  (d) the analysis run with PSE off, no shot changes;
  (e) PSE off with shot changes: scdet on its own 128x72 downscale.
Prints the median wall and CPU of each, and the ratios c/b and e/d (the cost of the cuts).

    .venv/bin/python benchmarks/bench_shots.py [--minutes 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from bench_check import Run, make_file, measure, median_run
from plan_outputs import to_null_device

from kickflow.engine import options_for
from kickflow.media.binaries import available_filters, find_ffmpeg
from kickflow.media.graph import AnalysisOptions, build_plan
from kickflow.media.probing import ProbeLimits, probe
from kickflow.profiles import load_profile

CASES = {
    "(a) decode only": None,
    "(b) analysis, PSE": (True, False),
    "(c) analysis, PSE + cuts": (True, True),
    "(d) analysis, no PSE": (False, False),
    "(e) analysis, cuts": (False, True),
}


def plan_cmd(ffmpeg: str, path: Path, work: Path, options: AnalysisOptions) -> list[str]:
    media = probe(path, path.stat().st_size, ProbeLimits())
    plan = build_plan(media, path, work, options, available_filters(ffmpeg))
    quiet = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    return [ffmpeg, *quiet, *plan.args, *to_null_device(plan)]


def commands(ffmpeg: str, path: Path, work: Path) -> dict[str, list[str]]:
    base = options_for(load_profile("ebu-r128"))
    decode = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
              "-f", "null", "-"]  # fmt: skip
    out = {}
    for name, case in CASES.items():
        if case is None:
            out[name] = decode
            continue
        pse, cuts = case
        options = replace(base, pse=base.pse if pse else None, shot_changes=cuts)
        out[name] = plan_cmd(ffmpeg, path, work, options)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    path = make_file(ffmpeg, args.minutes)
    runs: dict[str, list[Run]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory(prefix="bench-shots-") as tmp:
        cmds = commands(ffmpeg, path, Path(tmp))
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                runs[name].append(measure(cmd))
    result = {name: median_run(r) for name, r in runs.items()}
    print(f"file: {path.name}, median of {args.repeat} interleaved runs")
    print(f"{'':<28} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for name, run in result.items():
        print(f"{name:<28} {run.wall_s:8.2f} {run.cpu_s:8.2f} {run.peak_rss_mb:8.0f}")
    b, c, d, e = (result[n] for n in list(CASES)[1:])
    print(f"cuts with PSE (c/b): wall {c.wall_s / b.wall_s:.3f}  cpu {c.cpu_s / b.cpu_s:.3f}")
    print(f"cuts alone    (e/d): wall {e.wall_s / d.wall_s:.3f}  cpu {e.cpu_s / d.cpu_s:.3f}")


if __name__ == "__main__":
    main()
