"""Benchmark: the audio branches' cost, window levels and silences in FFmpeg or in numpy.

For clips with 1, 3 and 8 audio tracks (bench_check.clip's cached 20-s files), runs the
one-pass analysis graph two ways, alternating, and the decode floor (``ffmpeg -i F -map 0
-f null -``, same binary); prints the median wall and CPU time and the ratio to the floor:

  ffmpeg    as until the window levels moved out of FFmpeg: per track, ``astats`` (DC, peak,
            RMS) with ``aphasemeter`` on 100 ms windows, an L−R ``astats`` branch and two
            ``silencedetect`` (mix, each channel); the track's samples pad goes to a null
            output (as the first branch's frames did);
  numpy     as now: the samples go to a pipe, read and measured by media/levels.py's reader
            in this process (its CPU time is counted with FFmpeg's).

Both run the loudness, true-peak and music-bed branches (every track judged for its
music bed: the worst case).

    .venv/bin/python benchmarks/bench_audio_cost.py [--tracks 1 3 8] [--runs 3] [--audio-only]

On a loaded machine compare the CPU columns: wall time then says more about the neighbours.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench_check import Run, clip, measure, median_run
from plan_outputs import to_null_device

from kickflow.media import graph
from kickflow.media.binaries import available_filters, find_ffmpeg
from kickflow.media.levels import LevelsReader, output_args
from kickflow.media.model import AudioStream, MediaInfo
from kickflow.media.pipes import open_pipe
from kickflow.media.probing import ProbeLimits, probe

CURRENT = graph._audio_chains
QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def _in_ffmpeg(
    a: AudioStream, opt: graph.AnalysisOptions, work: Path, track: int = 1
) -> list[tuple[graph.Branch, str]]:
    """Today's branches plus the statistics, L−R and silence branches FFmpeg used to run."""
    n = max(1, round(a.sample_rate * opt.window_s))
    window = f"asetnsamples=n={n}:p=0"
    phase = "aphasemeter=video=0," if a.channels == 2 else ""
    chains = CURRENT(a, opt, work, track)
    th, d = f"{opt.silence_threshold_db}dB", opt.silence_min_s
    chains.append((
        graph.Branch("silence", work / f"silence_{track}.txt", track),
        f"silencedetect=n={th}:d={d},silencedetect=n={th}:d={d}:mono=1",
    ))  # fmt: skip
    chains.append((
        graph.Branch("astats", work / f"astats_{track}.txt", track),
        f"{window},{phase}astats=metadata=1:reset=1:measure_perchannel=DC_offset+Peak_level"
        "+RMS_level:measure_overall=none",
    ))  # fmt: skip
    if a.channels == 2:
        chains.append((
            graph.Branch("diff", work / f"diff_{track}.txt", track),
            f"pan=mono|c0=c0-c1,{window},astats=metadata=1:reset=1"
            ":measure_perchannel=RMS_level:measure_overall=none",
        ))  # fmt: skip
    return chains


def _plan(path: Path, work: Path, in_ffmpeg: bool) -> tuple[MediaInfo, graph.Plan]:
    ffmpeg = find_ffmpeg().path
    media = probe(path, path.stat().st_size, ProbeLimits())
    options = graph.AnalysisOptions(music_tracks=tuple(range(1, len(media.audio) + 1)))
    with mock.patch.object(graph, "_audio_chains", _in_ffmpeg if in_ffmpeg else CURRENT):
        return media, graph.build_plan(media, path, work, options, available_filters(ffmpeg))


def run_ffmpeg(path: Path, work: Path) -> Run:
    _, plan = _plan(path, work, in_ffmpeg=True)
    discard = [a for pad in plan.level_pads.values() for a in ("-map", pad)]
    picture = to_null_device(plan, samples=False)
    return measure([find_ffmpeg().path, *QUIET, *plan.args, *picture, *discard, "-f", "null", "-"])


def run_numpy(path: Path, work: Path) -> Run:
    """FFmpeg writing each track's samples to a pipe, read here; CPU of both counted."""
    media, plan = _plan(path, work, in_ffmpeg=False)
    args, readers, fds = [*plan.args, *to_null_device(plan, samples=False)], [], []
    for position, pad in plan.level_pads.items():
        read_end, write_end = open_pipe()
        stream = media.audio[position - 1]
        readers.append(LevelsReader(read_end, stream.channels, stream.sample_rate, 0.1, 0.0))
        args += output_args(pad, write_end)
        fds.append(write_end)
    own = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    proc = subprocess.Popen([find_ffmpeg().path, *QUIET, *args], pass_fds=fds)
    for fd in fds:
        os.close(fd)
    _, status, usage = os.wait4(proc.pid, 0)
    for reader in readers:
        reader.result()
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the graph failed: {args}")
    mine = resource.getrusage(resource.RUSAGE_SELF)
    readers_cpu = mine.ru_utime - own.ru_utime + mine.ru_stime - own.ru_stime
    return Run(wall, usage.ru_utime + usage.ru_stime + readers_cpu, usage.ru_maxrss / 1024)


WAYS = {"ffmpeg": run_ffmpeg, "numpy": run_numpy}


def _audio_only(ffmpeg: str, path: Path) -> Path:
    """A copy of ``path`` with its audio streams only (cached next to it)."""
    target = path.with_name(f"{path.stem}-audio.mka")
    if not target.exists():
        subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(path), "-map",
                        "0:a", "-c", "copy", str(target)], check=True)  # fmt: skip
    return target


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
        decode = [ffmpeg, "-nostdin", "-i", str(path), "-map", "0", "-f", "null", "-"]
        runs: dict[str, list[Run]] = {n: [] for n in names}
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(opts.runs):
                runs["decode"].append(measure(decode))
                for name, way in WAYS.items():
                    runs[name].append(way(path, Path(tmp)))
        med = {n: median_run(r) for n, r in runs.items()}
        floor = med["decode"].wall_s
        cells = " ".join(f"{med[n].wall_s:>9.2f}/{med[n].cpu_s:<8.2f}" for n in names)
        ratios = " ".join(f"{med[n].wall_s / floor:>8.2f}" for n in WAYS)
        print(f"{tracks:>6} {cells}   ratios {ratios}")


if __name__ == "__main__":
    main()
