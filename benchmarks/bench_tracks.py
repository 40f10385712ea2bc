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
from pathlib import Path

from bench_check import clip, decode_cmd, kickflow_cmd, measure, median_run

from kickflow.media.binaries import find_ffmpeg


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
            floors.append(measure(decode_cmd(ffmpeg, path, every_stream=True)))
            checks.append(measure(kickflow_cmd(path, profile="dubbing")))
            if opts.against is not None:
                befores.append(measure(kickflow_cmd(path, opts.against, "dubbing")))
        floor, check = median_run(floors), median_run(checks)
        line = (
            f"{tracks:>6} {floor.wall_s:>9.2f} {check.wall_s:>8.2f} "
            f"{check.wall_s / floor.wall_s:>6.2f} {floor.peak_rss_mb:>7.0f}"
            f" {check.peak_rss_mb:>7.0f}"
        )
        if befores:
            before = median_run(befores)
            line += (
                f" {before.wall_s:>9.2f} {before.wall_s / floor.wall_s:>6.2f}"
                f" {before.peak_rss_mb:>7.0f}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
