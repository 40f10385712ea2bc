"""Benchmark: the audio branches' cost, before and after the peak-meter rework, side by side.

For clips with 1, 3 and 8 audio tracks (bench_tracks.py's cached 20-s 1080p25 files), runs the
one-pass analysis graph three ways, alternating, and the decode floor (``ffmpeg -i F -map 0
-f null -``, same binary); prints the median wall and CPU time and the ratio to the floor:

  before    per track: a loudness meter, a second ebur128 (``peak=true+sample``) fed +100 dB for
            exact peaks, two silencedetects, astats with five measures, L−R;
  after     one loudness meter whose 100 ms frames also get their sample peaks (astats, dB), the
            true peaks from a 192 kHz interpolation + astats peaks (no second loudness meter),
            astats with the three measures that are read, plus the music-bed branch;
  no music  ``after`` without the music-bed branch (its own cost; it runs only on the tracks
            whose layout role needs a bed, so a profile without M&E tracks costs this).

    .venv/bin/python benchmarks/bench_audio_cost.py [--tracks 1 3 8] [--runs 3] [--audio-only]

On a loaded machine compare the CPU columns: wall time then says more about the neighbours.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from bench_check import Run, measure
from bench_tracks import clip

from kickflow.media import graph
from kickflow.media.binaries import available_filters, find_ffmpeg
from kickflow.media.model import AudioStream
from kickflow.media.probing import ProbeLimits, probe

CURRENT = graph._audio_chains
Chains = Callable[..., list[tuple[graph.Branch, str]]]


def _before(
    a: AudioStream, opt: graph.AnalysisOptions, work: Path, track: int = 1
) -> list[tuple[graph.Branch, str]]:
    """The audio branches as they were before (same branch files, same window)."""
    chains = {b.name: (b, c) for b, c in CURRENT(a, opt, work, track)}
    n = max(1, round(a.sample_rate * opt.window_s))
    stats = "DC_offset+Peak_level+RMS_level+Flat_factor+Peak_count"
    phase = "aphasemeter=video=0," if a.channels == 2 else ""
    old = {
        "loudness": "ebur128=metadata=1",
        "peaks": "volume=100dB:precision=double,ebur128=metadata=1:peak=true+sample",
        "astats": f"asetnsamples=n={n}:p=0,{phase}astats=metadata=1:reset=1"
        f":measure_perchannel={stats}:measure_overall=none",
    }
    return [(b, old.get(name, c)) for name, (b, c) in chains.items() if name != "music"]


def _no_music(*args: object, **kwargs: object) -> list[tuple[graph.Branch, str]]:
    return [(b, c) for b, c in CURRENT(*args, **kwargs) if b.name != "music"]  # type: ignore[arg-type]


WAYS: dict[str, Chains] = {"before": _before, "after": CURRENT, "no music": _no_music}


def _command(ffmpeg: str, path: Path, work: Path, chains: Chains) -> list[str]:
    media = probe(path, path.stat().st_size, ProbeLimits())
    # Every track judged for its music bed (a layout of M&E tracks): the branch's worst case.
    options = graph.AnalysisOptions(music_tracks=tuple(range(1, len(media.audio) + 1)))
    with mock.patch.object(graph, "_audio_chains", chains):
        plan = graph.build_plan(media, path, work, options, available_filters(ffmpeg))
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *plan.args]
    check = subprocess.run([*cmd[:1], "-v", "quiet", "-t", "0.2", *cmd[1:]], check=False)
    if check.returncode != 0:
        raise SystemExit(f"the graph failed ({check.returncode}): {' '.join(cmd)}")
    return cmd


def _audio_only(ffmpeg: str, path: Path) -> Path:
    """A copy of ``path`` with its audio streams only (cached next to it)."""
    target = path.with_name(f"{path.stem}-audio.mka")
    if not target.exists():
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(path), "-map",
                        "0:a", "-c", "copy", str(target)], check=True)  # fmt: skip
    return target


def _median(runs: list[Run]) -> Run:
    return Run(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        max(r.peak_rss_mb for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, nargs="+", default=[1, 3, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--audio-only", action="store_true", help="audio streams only: the branches' own cost"
    )
    opts = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    names = ["decode", *WAYS]
    print(f"{'tracks':>6} " + " ".join(f"{n + ' wall/cpu':>18}" for n in names) + "   ratios "
          + " ".join(f"{n:>8}" for n in WAYS))  # fmt: skip
    for tracks in opts.tracks:
        path = clip(ffmpeg, tracks, opts.seconds)
        path = _audio_only(ffmpeg, path) if opts.audio_only else path
        with tempfile.TemporaryDirectory() as tmp:
            cmds = {"decode": [ffmpeg, "-nostdin", "-i", str(path), "-map", "0", "-f", "null", "-"]}
            cmds |= {n: _command(ffmpeg, path, Path(tmp), c) for n, c in WAYS.items()}
            runs: dict[str, list[Run]] = {n: [] for n in names}
            for _ in range(opts.runs):
                for name, cmd in cmds.items():
                    runs[name].append(measure(cmd))
        med = {n: _median(r) for n, r in runs.items()}
        floor = med["decode"].wall_s
        cells = " ".join(f"{med[n].wall_s:>9.2f}/{med[n].cpu_s:<8.2f}" for n in names)
        ratios = " ".join(f"{med[n].wall_s / floor:>8.2f}" for n in WAYS)
        print(f"{tracks:>6} {cells}   ratios {ratios}")


if __name__ == "__main__":
    main()
