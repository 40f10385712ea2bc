"""Benchmark: what each branch of the analysis graph costs, by taking it out of the real command.

Builds the one-pass analysis command for a cached 1080p25 file (bench_check.py's) with PSE on,
then runs, alternating, ``--runs`` times each: the decode floor (``ffmpeg -i F -f null -``), the
whole command, and the whole command without one branch at a time. Prints the median CPU time
(user + sys) of each and, for each branch, what the whole costs more than the whole without it.
The tracks' samples (media/levels.py) go to /dev/null here: the readers' own cost is in
bench_audio_cost.py. CPU, not wall: on two busy cores wall time mostly says who else ran.

    .venv/bin/python benchmarks/bench_branches.py [--minutes 1] [--runs 5]

Differences under about 0.15 CPU-s a minute were noise on the machine this was written on, and
the parts do not add up: taking a branch out can take a ``split`` and a filter thread with it
(without idet, the picture's graph has one branch and no split), and that lands on the branch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from bench_check import make_file
from plan_outputs import to_null_device

from kickflow.media import graph
from kickflow.media.binaries import available_filters, find_ffmpeg
from kickflow.media.probing import ProbeLimits, probe
from kickflow.media.pse import PseOptions

QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
Chains = Callable[..., list[tuple[graph.Branch, str]]]


def _without(chains: Chains, name: str) -> Chains:
    def fewer(*args: object, **kwargs: object) -> list[tuple[graph.Branch, str]]:
        return [(b, c) for b, c in chains(*args, **kwargs) if b.name != name]

    return fewer


def command(ffmpeg: str, path: Path, work: Path, drop: str | None) -> list[str]:
    media = probe(path, path.stat().st_size, ProbeLimits())
    options = graph.AnalysisOptions(pse=None if drop == "pse" else PseOptions())
    audio, video = graph._audio_chains, graph._video_chains
    with (
        mock.patch.object(graph, "_audio_chains", _without(audio, drop or "")),
        mock.patch.object(graph, "_video_chains", _without(video, drop or "")),
    ):
        plan = graph.build_plan(media, path, work, options, available_filters(ffmpeg))
    return [ffmpeg, *QUIET, *plan.args, *to_null_device(plan)]


def cpu_s(cmd: list[str]) -> float:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{err[-2000:]}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    path = make_file(ffmpeg, args.minutes)
    branches = ["pse", "video", "idet", "loudness", "peaks"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cmds = {"decode floor": [ffmpeg, *QUIET, "-i", str(path), "-f", "null", "-"]}
        cmds["everything"] = command(ffmpeg, path, work, None)
        cmds |= {f"without {b}": command(ffmpeg, path, work, b) for b in branches}
        runs: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(max(1, args.runs)):
            for name, cmd in cmds.items():
                runs[name].append(cpu_s(cmd))
    med = {name: statistics.median(values) for name, values in runs.items()}
    floor, whole = med["decode floor"], med["everything"]
    print(f"{path.name}, median CPU-s of {args.runs} runs")
    print(f"{'decode floor':<22} {floor:7.2f}")
    print(f"{'everything':<22} {whole:7.2f}   {whole / floor:5.2f}× the floor")
    for branch in branches:
        cost = whole - med[f"without {branch}"]
        print(f"{'  ' + branch:<22} {cost:+7.2f}   {100 * cost / floor:+5.1f} % of the floor")


if __name__ == "__main__":
    main()
