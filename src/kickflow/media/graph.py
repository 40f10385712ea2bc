"""The one-decode filter graph: every analysis is a branch of one ``-filter_complex``.

Each branch ends in ``metadata=print``/``ametadata=print`` writing to its own file, so the
results are FFmpeg's own per-frame metadata (structured ``key=value``), parsed afterwards.
Per-pixel statistics run on a decimated, downscaled picture unless the profile asks for
frame-accurate analysis; interlace detection looks at short runs of full-resolution frames,
because idet compares neighbouring frames.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kickflow.media.model import AudioStream, MediaInfo, VideoStream

SAFE_PATH = re.compile(r"^[A-Za-z0-9_./-]+$")
YUV_FORMATS = "yuv420p|yuv422p|yuv444p|yuv420p10le|yuv422p10le|yuv444p10le|yuv420p12le"


@dataclass(frozen=True)
class AnalysisOptions:
    """Detector settings for one run (derived from the profile)."""

    silence_threshold_db: float = -60.0
    silence_min_s: float = 1.0
    black_min_s: float = 0.5
    black_pixel_threshold: float = 0.10
    black_picture_ratio: float = 0.98
    freeze_noise: float = 0.001
    freeze_min_s: float = 1.0
    sample_fps: float | None = 5.0  # None: every frame (frame-accurate)
    analysis_width: int = 480
    interlace_run: int = 4  # consecutive frames idet sees…
    interlace_every: int = 12  # …out of every this many (frame-accurate: all)
    window_s: float = 0.1  # audio statistics window
    clip_peak_dbfs: float = -0.1  # a window peaking at or above this is clipped
    crop: bool = True


@dataclass(frozen=True)
class Branch:
    name: str  # "loudness", "silence", "astats", "diff", "video", "idet"
    file: Path


@dataclass(frozen=True)
class Plan:
    args: list[str]
    branches: tuple[Branch, ...]
    audio: AudioStream | None
    video: VideoStream | None
    analysis_size: tuple[int, int] | None


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def analysis_size(video: VideoStream, width: int) -> tuple[int, int]:
    """The reduced picture size for per-pixel statistics (never upscaled)."""
    w = min(video.width, width)
    return _even(w), _even(video.height * w / max(1, video.width))


def _print(kind: str, branch: Branch) -> str:
    if not SAFE_PATH.match(str(branch.file)):
        raise ValueError(f"unsafe path for a filter graph: {branch.file}")
    return f"{kind}=mode=print:file={branch.file}"


def _audio_chains(a: AudioStream, opt: AnalysisOptions, work: Path) -> list[tuple[Branch, str]]:
    n = max(1, round(a.sample_rate * opt.window_s))
    th, d = f"{opt.silence_threshold_db}dB", opt.silence_min_s
    stats = "DC_offset+Peak_level+RMS_level+Flat_factor+Peak_count"
    window = f"asetnsamples=n={n}:p=0"
    chains = [
        (Branch("loudness", work / "loudness.txt"), "ebur128=metadata=1:peak=true+sample"),
        (
            Branch("silence", work / "silence.txt"),
            f"silencedetect=n={th}:d={d},silencedetect=n={th}:d={d}:mono=1",
        ),
    ]
    phase = "aphasemeter=video=0," if a.channels == 2 else ""
    chains.append(
        (
            Branch("astats", work / "astats.txt"),
            f"{window},{phase}astats=metadata=1:reset=1:measure_perchannel={stats}"
            ":measure_overall=none",
        )
    )
    if a.channels == 2:
        chains.append(
            (
                Branch("diff", work / "diff.txt"),
                f"pan=mono|c0=c0-c1,{window},astats=metadata=1:reset=1"
                ":measure_perchannel=RMS_level:measure_overall=none",
            )
        )
    return chains


def _video_chains(
    v: VideoStream, opt: AnalysisOptions, work: Path, filters: frozenset[str]
) -> list[tuple[Branch, str]]:
    w, h = analysis_size(v, opt.analysis_width)
    decimate = f"fps={opt.sample_fps}," if opt.sample_fps else ""
    crop = ",cropdetect=round=2:reset=1" if opt.crop and "cropdetect" in filters else ""
    stats = (
        f"{decimate}scale={w}:{h}:flags=area,format=pix_fmts={YUV_FORMATS},"
        f"blackdetect=d={opt.black_min_s}:pix_th={opt.black_pixel_threshold}"
        f":pic_th={opt.black_picture_ratio},"
        f"freezedetect=n={opt.freeze_noise}:d={opt.freeze_min_s},"
        f"signalstats=stat=brng{crop}"
    )
    chains = [(Branch("video", work / "video.txt"), stats)]
    if opt.sample_fps:
        run, every = opt.interlace_run, opt.interlace_every
        idet = f"select='lt(mod(n\\,{every})\\,{run})',idet"
    else:
        idet = "idet"
    chains.append((Branch("idet", work / "idet.txt"), idet))
    return chains


def _fan_out(source: str, split: str, chains: list[tuple[Branch, str]], kind: str) -> list[str]:
    if len(chains) == 1:
        branch, chain = chains[0]
        return [f"{source}{chain},{_print(kind, branch)}[o_{branch.name}]"]
    labels = [f"[s_{b.name}]" for b, _ in chains]
    parts = [f"{source}{split}={len(chains)}{''.join(labels)}"]
    for (branch, chain), label in zip(chains, labels, strict=True):
        parts.append(f"{label}{chain},{_print(kind, branch)}[o_{branch.name}]")
    return parts


def safe_input(source: Path, format_name: str, max_pixels: int | None = None) -> list[str]:
    """``-i`` for ``source`` with its guards: the file protocol only, and only the demuxer
    the probe found (``-format_whitelist``); every FFmpeg run over an input starts here."""
    args = ["-protocol_whitelist", "file", "-format_whitelist", format_name]
    if max_pixels:
        args += ["-max_pixels", str(max_pixels)]
    return [*args, "-i", f"file:{source.resolve()}"]


def build_plan(
    media: MediaInfo,
    source: Path,
    work: Path,
    options: AnalysisOptions,
    filters: frozenset[str],
    max_pixels: int | None = None,
) -> Plan:
    """FFmpeg arguments for the single analysis pass over ``source``.

    The input may only be opened by the demuxer the probe found (``-format_whitelist``): if
    this FFmpeg build detects the file as anything else (a manifest disguised as raw audio, a
    polyglot), it refuses to open it instead of following what the file names.
    """
    audio = media.audio[0] if media.audio else None
    video = media.video[0] if media.video else None
    graph: list[str] = []
    chains_a = _audio_chains(audio, options, work) if audio else []
    chains_v = _video_chains(video, options, work, filters) if video else []
    if audio:
        graph += _fan_out(f"[0:{audio.index}]", "asplit", chains_a, "ametadata")
    if video:
        graph += _fan_out(f"[0:{video.index}]", "split", chains_v, "metadata")
    branches = tuple(b for b, _ in chains_a + chains_v)
    args = safe_input(source, media.format_name, max_pixels)
    args += ["-filter_complex", ";".join(graph)]
    for b in branches:
        args += ["-map", f"[o_{b.name}]"]
    args += ["-f", "null", "-"]
    size = analysis_size(video, options.analysis_width) if video else None
    return Plan(args, branches, audio, video, size)
