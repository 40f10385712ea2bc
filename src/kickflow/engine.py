"""The QC engine: a file and a profile in, a report out. Everything else runs this."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from kickflow.config import Settings, get_settings
from kickflow.media.analysis import SpeechRun, analyse
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.graph import AnalysisOptions
from kickflow.media.inputs import SubtitleInput, validate_input
from kickflow.media.model import MediaInfo, SubtitleFile
from kickflow.media.probing import ProbeLimits
from kickflow.media.pse import PseOptions
from kickflow.media.runner import RunLimits
from kickflow.media.timecode import parse_timecode_text
from kickflow.profiles import Profile
from kickflow.profiles.model import LAYOUT_CHANNELS
from kickflow.profiles.music_spec import bed_track_positions

if TYPE_CHECKING:
    from kickflow.report import Report
    from kickflow.speech.transcribe import Transcriber

SHOT_CHANGE_CHECK = "subtitle.shot_change"
JUDGING_SHARE = 0.02  # of the progress fraction: the checks run after the analysis


def timed_options(
    options: AnalysisOptions, profile: Profile, media: MediaInfo, *, sidecars: bool
) -> AnalysisOptions:
    """``options`` with the timed-text and speech outputs this file and profile need."""
    from kickflow.speech.stage import listened_tracks

    text_streams = any(s.text for s in media.subtitles)
    # Cuts cost a branch over every frame: only when a rule uses them (shot_change_frames > 0).
    shots = (
        (sidecars or text_streams)
        and profile.subtitles.wants_shot_changes
        and profile.severity_of(SHOT_CHANGE_CHECK) != "off"
    )
    return replace(
        options,
        subtitle_streams=text_streams,
        shot_changes=shots and bool(media.video),
        speech_tracks=listened_tracks(profile, media, subtitles=sidecars),
    )


def speech_run(
    profile: Profile, media: MediaInfo, tracks: Sequence[int], transcriber: Transcriber | None
) -> SpeechRun | None:
    """The speech stage for the listened ``tracks`` (None when none is listened to)."""
    if not tracks:
        return None
    from kickflow.speech.stage import SpeechStage

    return SpeechStage(profile, media.audio, transcriber)


def load_sidecars(
    subtitles: Sequence[SubtitleInput], settings: Settings
) -> tuple[SubtitleFile, ...]:
    """Each delivered subtitle file, parsed (one that cannot be read carries its error)."""
    if not subtitles:
        return ()
    from kickflow.subtitles.load import load_subtitle_file

    max_bytes = round(settings.max_subtitle_mb * 1_000_000)
    return tuple(load_subtitle_file(s.path, s.name, max_bytes=max_bytes) for s in subtitles)


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
        music_tracks=bed_track_positions(profile),
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
    subtitles: Sequence[SubtitleInput] = (),
    transcriber: Transcriber | None = None,
) -> Report:
    """Analyse ``path`` in one FFmpeg pass and judge it against ``profile``.

    ``on_progress`` receives the fraction done (0–1) from FFmpeg's progress output, then from
    reading its results and judging them; if it raises, FFmpeg's process group is killed and
    the exception propagates. ``timecode_start`` replaces the source's start timecode (its
    syntax is checked before anything runs). ``subtitles`` are the delivered sidecar files;
    ``transcriber`` transcribes the listened tracks when the profile asks for it.
    """
    if timecode_start is not None:
        parse_timecode_text(timecode_start)
    settings = settings or get_settings()
    size = validate_input(path)
    binary = find_ffmpeg(settings.ffmpeg)
    sidecars = load_sidecars(subtitles, settings)
    base = options_for(profile)

    def setup(media: MediaInfo) -> tuple[AnalysisOptions, SpeechRun | None]:
        options = timed_options(base, profile, media, sidecars=bool(sidecars))
        return options, speech_run(profile, media, options.speech_tracks, transcriber)

    def analysis_progress(fraction: float) -> None:
        if on_progress is not None:
            on_progress(fraction * (1 - JUDGING_SHARE))

    measurements = analyse(
        path,
        size,
        binary=binary.path,
        options=base,
        limits=limits_for(settings),
        probe_limits=probe_limits_for(settings, profile),
        on_fraction=analysis_progress,
        work_dir=work_dir,
        setup=setup,
    )
    measurements = replace(measurements, subtitles=sidecars + measurements.subtitles)
    from kickflow.report import build_report  # here: the checks' imports need not delay FFmpeg

    report = build_report(
        measurements,
        profile,
        input_name=display_name or path.name,
        size_bytes=size,
        timecode_start=timecode_start,
    )
    if on_progress is not None:
        on_progress(1.0)
    return report
