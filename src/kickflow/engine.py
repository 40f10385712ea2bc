"""The QC engine: a file and a profile in, a report out. Everything else runs this."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kickflow.config import Settings, get_settings
from kickflow.media.analysis import analyse
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.graph import AnalysisOptions
from kickflow.media.inputs import validate_input
from kickflow.media.probing import ProbeLimits
from kickflow.media.pse import PseOptions
from kickflow.media.runner import RunLimits
from kickflow.media.timecode import parse_timecode_text
from kickflow.profiles import Profile
from kickflow.profiles.model import LAYOUT_CHANNELS
from kickflow.report import Report, build_report


def options_for(profile: Profile) -> AnalysisOptions:
    """Detector settings for FFmpeg's filters, taken from the profile."""
    d = profile.detect
    return AnalysisOptions(
        silence_threshold_db=d.silence_threshold_db,
        silence_min_s=d.silence_min_s,
        black_min_s=d.black_min_s,
        black_pixel_threshold=d.black_pixel_threshold,
        black_picture_ratio=d.black_picture_threshold,
        freeze_noise=10 ** (d.freeze_noise_db / 20),
        freeze_min_s=d.freeze_min_s,
        clip_peak_dbfs=d.clip_peak_dbfs,
        sample_fps=None if profile.video.frame_accurate else profile.video.sample_fps,
        pse=pse_options(profile),
        track_layouts=tuple(_layout(t.layout) for t in profile.audio.tracks),
        channel_layout=_layout(profile.audio.channel_layout),
        groups=tuple((g.name, g.tracks, g.layout) for g in profile.audio.groups),
    )


def _layout(name: str | None) -> tuple[str, int] | None:
    """A layout name with its channel count, for streams whose file declares none."""
    return (name, LAYOUT_CHANNELS[name.split("(")[0]]) if name else None


def pse_options(profile: Profile) -> PseOptions | None:
    """The flash screener's rule, or None when the profile leaves it off (no branch runs)."""
    spec = profile.pse
    if not spec.enabled or profile.severity_of("video.pse") == "off":
        return None
    return PseOptions(
        peak_cd_m2=spec.peak_cd_m2,
        min_change_cd_m2=spec.min_change_cd_m2,
        max_dark_cd_m2=spec.max_dark_cd_m2,
        max_flashes=spec.max_flashes_per_s,
        max_area=spec.max_area,
        red_rule=spec.red_rule,
    )


def limits_for(settings: Settings) -> RunLimits:
    """The FFmpeg watchdog and memory limits from the settings."""
    return RunLimits(
        stall_seconds=settings.ffmpeg_stall_seconds,
        wall_seconds=settings.ffmpeg_wall_seconds,
        max_memory_mb=settings.ffmpeg_max_memory_mb,
        kill_grace_seconds=settings.ffmpeg_kill_grace_seconds,
    )


def probe_limits_for(settings: Settings, profile: Profile) -> ProbeLimits:
    """What a file may claim to be, and what probing it may cost, before it is decoded."""
    return ProbeLimits(
        allow_raw_pcm=profile.container.allow_raw_pcm,
        max_frame_pixels=settings.max_frame_pixels,
        max_channels=settings.max_channels,
        max_streams=settings.max_streams,
        max_duration_s=settings.max_duration_seconds,
        min_bytes_per_s=settings.min_bytes_per_second,
        max_memory_mb=settings.probe_max_memory_mb,
        timeout_s=settings.probe_timeout_seconds,
    )


def check_file(
    path: Path,
    profile: Profile,
    *,
    on_progress: Callable[[float], None] | None = None,
    settings: Settings | None = None,
    work_dir: Path | None = None,
    display_name: str | None = None,
    timecode_start: str | None = None,
) -> Report:
    """Analyse ``path`` in one FFmpeg pass and judge it against ``profile``.

    ``on_progress`` receives the fraction done (0–1) from FFmpeg's progress output; if it
    raises, FFmpeg's process group is killed and the exception propagates. ``timecode_start``
    replaces the source's start timecode (its syntax is checked before anything runs).
    """
    if timecode_start is not None:
        parse_timecode_text(timecode_start)
    settings = settings or get_settings()
    size = validate_input(path)
    binary = find_ffmpeg(settings.ffmpeg)
    measurements = analyse(
        path,
        size,
        binary=binary.path,
        options=options_for(profile),
        limits=limits_for(settings),
        probe_limits=probe_limits_for(settings, profile),
        on_fraction=on_progress,
        work_dir=work_dir,
    )
    return build_report(
        measurements,
        profile,
        input_name=display_name or path.name,
        size_bytes=size,
        timecode_start=timecode_start,
    )
