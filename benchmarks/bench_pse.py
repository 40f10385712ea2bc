"""Benchmark: what the flash / PSE screening branch costs, side by side in one run.

On a cached 1080p25 H.264 + AAC file (60 s by default), interleaved ``--repeat`` times:
  (a) decode only: ``ffmpeg -i F -f null -`` — the floor;
  (b) ``kickflow check F`` with the ebu-r128 profile, PSE screening off ([pse] enabled = false);
  (c) the same with PSE screening on (the shipped ebu-r128);
  (d) the screener's Python pass alone, over the branch's raw output of the same file.
Prints the median wall and CPU of each and the ratios c/a, b/a, c/b.

    .venv/bin/python benchmarks/bench_pse.py [--minutes 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_check import Run, make_file, measure, median_run

from kickflow.media.binaries import find_ffmpeg
from kickflow.media.pse import PseOptions, output_args, pse_chain, read_pse

PROFILES = Path(__file__).resolve().parents[1] / "src" / "kickflow" / "profiles"


def profile_without_pse(directory: Path) -> Path:
    text = (PROFILES / "ebu-r128.toml").read_text(encoding="utf-8")
    assert "[pse]\n" in text, "ebu-r128 no longer has a [pse] table"
    head, _, tail = text.partition("[pse]\n")
    tail = tail.replace("enabled = true", "enabled = false", 1)
    target = directory / "ebu-r128-no-pse.toml"
    target.write_text(head.replace('name = "ebu-r128"', 'name = "ebu-r128-no-pse"') + "[pse]\n"
                      + tail, encoding="utf-8")  # fmt: skip
    return target


def check(path: Path, profile: str) -> list[str]:
    return [sys.executable, "-m", "kickflow", "check", str(path), "-p", profile, "--json", "-"]


def python_pass(ffmpeg: str, path: Path, directory: Path) -> float:
    raw = directory / "cells.rgb48"
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(path),
         "-filter_complex", f"[0:v]{pse_chain()}[o_pse]", *output_args("[o_pse]", raw)],
        check=True,
    )  # fmt: skip
    started = time.monotonic()
    read_pse(raw, 25.0, PseOptions())
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    path = make_file(ffmpeg, args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        no_pse = str(profile_without_pse(Path(tmp)))
        decode = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path),
                  "-f", "null", "-"]  # fmt: skip
        runs: dict[str, list[Run]] = {"a": [], "b": [], "c": []}
        for _ in range(args.repeat):
            runs["a"].append(measure(decode))
            runs["b"].append(measure(check(path, no_pse)))
            runs["c"].append(measure(check(path, "ebu-r128")))
        python_s = python_pass(ffmpeg, path, Path(tmp))
    a, b, c = (median_run(runs[k]) for k in "abc")
    print(f"file: {path.name}, median of {args.repeat} interleaved runs")
    print(f"{'':<30} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for name, run in (("(a) decode only", a), ("(b) check, PSE off", b), ("(c) check, PSE on", c)):
        print(f"{name:<30} {run.wall_s:8.2f} {run.cpu_s:8.2f} {run.peak_rss_mb:8.0f}")
    print(f"(d) screener's Python pass     {python_s:8.2f}")
    print(f"c/a wall {c.wall_s / a.wall_s:.2f}  b/a wall {b.wall_s / a.wall_s:.2f}  "
          f"c/b wall {c.wall_s / b.wall_s:.2f}  c/b cpu {c.cpu_s / b.cpu_s:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
