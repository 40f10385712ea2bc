"""One decode, every analysis: probe, build the graph, run FFmpeg once, parse the branches."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kickflow.errors import FfmpegFailed, FormatRefused
from kickflow.media.audio import analyse_audio, loudness_from
from kickflow.media.binaries import available_filters
from kickflow.media.graph import SAFE_PATH, AnalysisOptions, Plan, build_plan
from kickflow.media.metadata import MetaFrame, parse_metadata_print
from kickflow.media.model import DecodeErrors, Measurements, MediaInfo
from kickflow.media.probing import ProbeLimits, probe
from kickflow.media.runner import RunLimits, StampedLine, run_ffmpeg
from kickflow.media.video import analyse_video

FractionCallback = Callable[[float], None]
DEFAULT_PROBE_LIMITS = ProbeLimits()
MAX_ERROR_SAMPLES = 5
# Log contexts that are not decoders: the filter graph, muxers, the CLI itself.
_NON_DECODER = re.compile(r"^\[(fc#|out#|Parsed_|AVFilterGraph|null @|graph)")
_ERROR_LEVEL = re.compile(r"\[(error|fatal)\]")


def refused_at_open(stderr_tail: str) -> bool:
    """FFmpeg gave up opening the input (the format allow-list refused its own detection)."""
    return "Error opening input" in stderr_tail and "Invalid argument" in stderr_tail


def decode_errors_from(lines: tuple[StampedLine, ...]) -> DecodeErrors:
    """Error-level lines logged by demuxers and decoders, with the media time they arrived."""
    found = [
        line
        for line in lines
        if _ERROR_LEVEL.search(line.text) and not _NON_DECODER.match(line.text)
    ]
    return DecodeErrors(
        count=len(found),
        times_s=tuple(round(line.at_s, 2) for line in found),
        samples=tuple(line.text[:200] for line in found[:MAX_ERROR_SAMPLES]),
    )


# The keys each branch's measurements use; everything else FFmpeg prints is dropped on reading.
KEYS_USED = {
    "loudness": ("lavfi.r128.M", "lavfi.r128.S", "lavfi.r128.I", "lavfi.r128.LRA=",
                 "lavfi.r128.true_peak", "lavfi.r128.sample_peak="),
    "silence": ("lavfi.silence_start", "lavfi.silence_end"),
    "astats": ("lavfi.astats.", "lavfi.aphasemeter.phase"),
    "diff": ("lavfi.astats.1.RMS_level",),
    "video": ("lavfi.black_", "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end",
              "lavfi.signalstats.BRNG", "lavfi.signalstats.YMIN", "lavfi.signalstats.YMAX",
              "lavfi.cropdetect."),
    "idet": ("lavfi.idet.single.current_frame",),
}  # fmt: skip


def _read(plan: Plan, name: str) -> list[MetaFrame]:
    for branch in plan.branches:
        if branch.name == name and branch.file.exists():
            with branch.file.open(encoding="utf-8", errors="replace") as lines:
                return parse_metadata_print(lines, KEYS_USED[name])
    return []


def _end_of(media: MediaInfo, *frame_lists: list[MetaFrame]) -> float:
    last = max((frames[-1].t for frames in frame_lists if frames), default=0.0)
    return max(media.duration_s or 0.0, last)


def measure(
    media: MediaInfo,
    plan: Plan,
    options: AnalysisOptions,
    run_errors: DecodeErrors,
    elapsed_s: float,
) -> Measurements:
    """Turn the branch files of a finished run into measurements."""
    loud, sil, stats, diff = (_read(plan, n) for n in ("loudness", "silence", "astats", "diff"))
    vstats, idet = _read(plan, "video"), _read(plan, "idet")
    end_s = _end_of(media, loud, stats, vstats)
    audio = video = loudness = None
    if plan.audio is not None:
        loudness = loudness_from(loud, plan.audio.channels)
        audio = analyse_audio(
            plan.audio,
            silence=sil,
            stats=stats,
            diff=diff,
            end_s=end_s,
            window_s=options.window_s,
            clip_peak_dbfs=options.clip_peak_dbfs,
        )
    if plan.video is not None and plan.analysis_size is not None:
        video = analyse_video(
            plan.video,
            stats=vstats,
            idet=idet,
            size=plan.analysis_size,
            sample_fps=options.sample_fps,
            end_s=end_s,
        )
    return Measurements(media, loudness, audio, video, run_errors, round(elapsed_s, 3))


def analyse(
    path: Path,
    size_bytes: int,
    *,
    binary: str,
    options: AnalysisOptions,
    limits: RunLimits,
    probe_limits: ProbeLimits = DEFAULT_PROBE_LIMITS,
    on_fraction: FractionCallback | None = None,
    work_dir: Path | None = None,
) -> Measurements:
    """Probe ``path`` (in a child, within the caps) and run the single analysis pass over it."""
    media = probe(path, size_bytes, probe_limits)
    if work_dir is not None and not SAFE_PATH.match(str(work_dir)):
        work_dir = None  # the graph names files inside it; fall back to the system temp dir
    work = Path(tempfile.mkdtemp(prefix="kickflow-analysis-", dir=work_dir))
    try:
        plan = build_plan(
            media, path, work, options, available_filters(binary), probe_limits.max_frame_pixels
        )
        duration = media.duration_s

        def seconds_done(seconds: float) -> None:
            if on_fraction is not None:
                on_fraction(min(1.0, seconds / duration) if duration else 0.0)

        started = time.monotonic()
        try:
            result = run_ffmpeg(
                binary, plan.args, limits=limits, duration_s=duration, on_progress=seconds_done
            )
        except FfmpegFailed as exc:
            if refused_at_open(exc.stderr_tail):
                raise FormatRefused(
                    f"refused: FFmpeg does not open {path.name} as {media.format_name}, the "
                    "format the probe found; it may be a disguised manifest or playlist"
                ) from None
            raise
        return measure(
            media, plan, options, decode_errors_from(result.log_lines), time.monotonic() - started
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
