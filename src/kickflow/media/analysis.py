"""One decode, every analysis: probe, build the graph, run FFmpeg once, parse the branches."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kickflow.errors import FfmpegFailed, FormatRefused
from kickflow.media.audio import analyse_audio, loudness_from
from kickflow.media.binaries import available_filters
from kickflow.media.graph import SAFE_PATH, AnalysisOptions, Plan, build_plan
from kickflow.media.metadata import MetaFrame, parse_metadata_print
from kickflow.media.model import (
    AudioStream,
    AudioTrack,
    DecodeErrors,
    GroupLoudness,
    Measurements,
    MediaInfo,
)
from kickflow.media.probing import ProbeLimits, probe
from kickflow.media.pse import PseAnalysis, read_pse
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
    "peaks": ("lavfi.r128.true_peak", "lavfi.r128.sample_peak"),
    "group": ("lavfi.r128.M", "lavfi.r128.S", "lavfi.r128.I", "lavfi.r128.LRA="),
    "silence": ("lavfi.silence_start", "lavfi.silence_end"),
    "astats": ("lavfi.astats.", "lavfi.aphasemeter.phase"),
    "diff": ("lavfi.astats.1.RMS_level",),
    "video": ("lavfi.black_", "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end",
              "lavfi.signalstats.BRNG", "lavfi.signalstats.YMIN", "lavfi.signalstats.YMAX",
              "lavfi.signalstats.UMIN", "lavfi.signalstats.UMAX", "lavfi.signalstats.VMIN",
              "lavfi.signalstats.VMAX",
              "lavfi.cropdetect."),
    "idet": ("lavfi.idet.single.current_frame",),
}  # fmt: skip


def _read(plan: Plan, name: str, track: int = 0) -> list[MetaFrame]:
    for branch in plan.branches:
        if branch.name == name and branch.track == track and branch.file.exists():
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
    vstats, idet = _read(plan, "video"), _read(plan, "idet")
    # Track 1's files are read once: their last frames also give the programme's end.
    first = _track_frames(plan, 1) if plan.audio_tracks else {}
    end_s = _end_of(media, first.get("loudness", []), first.get("astats", []), vstats)
    tracks = tuple(
        _track(
            position,
            stream,
            first if position == 1 else _track_frames(plan, position),
            options,
            end_s,
        )
        for position, stream in enumerate(plan.audio_tracks, 1)
    )
    video = None
    loudness, audio = (tracks[0].loudness, tracks[0].audio) if tracks else (None, None)
    if plan.video is not None and plan.analysis_size is not None:
        video = analyse_video(
            plan.video,
            stats=vstats,
            idet=idet,
            size=plan.analysis_size,
            sample_fps=options.sample_fps,
            end_s=end_s,
        )
    return Measurements(
        media,
        loudness,
        audio,
        video,
        run_errors,
        round(elapsed_s, 3),
        audio_tracks=tracks,
        unanalysed_audio=plan.unanalysed_audio,
        audio_groups=_groups(plan, tracks),
        pse=_pse(plan, options),
    )


def _pse(plan: Plan, options: AnalysisOptions) -> PseAnalysis | None:
    """The flash screening of every frame, when the plan had its branch."""
    if plan.pse_file is None or options.pse is None or plan.video is None:
        return None
    return read_pse(plan.pse_file, plan.video.frame_rate or 25.0, options.pse)


def _groups(plan: Plan, tracks: tuple[AudioTrack, ...]) -> tuple[GroupLoudness, ...]:
    """Each channel group's loudness; its peaks are its members' (measured per track)."""
    out = []
    for number, (name, positions, layout) in enumerate(plan.groups, 1):
        loud = loudness_from(_read(plan, "group", number), len(positions))
        members = [tracks[p - 1].loudness for p in positions if p <= len(tracks)]
        true_peaks = [m.true_peak_dbtp for m in members if m.true_peak_dbtp is not None]
        sample_peaks = [m.sample_peak_dbfs for m in members if m.sample_peak_dbfs is not None]
        loud = replace(
            loud,
            true_peak_dbtp=max(true_peaks, default=None),
            sample_peak_dbfs=max(sample_peaks, default=None),
            channel_true_peaks_dbtp=tuple(m.true_peak_dbtp for m in members),
        )
        out.append(GroupLoudness(name, positions, layout, loud))
    return tuple(out)


def _track_frames(plan: Plan, position: int) -> dict[str, list[MetaFrame]]:
    """The parsed files of one audio track's branches, by branch name."""
    return {n: _read(plan, n, position) for n in ("loudness", "peaks", "silence", "astats", "diff")}


def _track(
    position: int,
    stream: AudioStream,
    frames: dict[str, list[MetaFrame]],
    options: AnalysisOptions,
    end_s: float,
) -> AudioTrack:
    """One audio track's loudness and analysis, from its own branches of the graph."""
    audio = analyse_audio(
        stream,
        silence=frames["silence"],
        stats=frames["astats"],
        diff=frames["diff"],
        end_s=end_s,
        window_s=options.window_s,
        clip_peak_dbfs=options.clip_peak_dbfs,
    )
    loudness = loudness_from(frames["loudness"], stream.channels, frames["peaks"])
    return AudioTrack(position, stream, loudness, audio)


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
