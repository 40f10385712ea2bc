"""One decode, every analysis: probe, build the graph, run FFmpeg once, parse the branches.

Progress: probing the file is the first ``PROBE_SHARE`` of the fraction, FFmpeg's own progress
fills it up to ``FFMPEG_SHARE``; reading the
branch files and listening to the speech tracks afterwards move it on towards 1.0 one step at
a time, so a worker's heartbeat keeps showing movement on a long file (the job is not stuck).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from kickflow.errors import FfmpegFailed, FormatRefused
from kickflow.media.audio import analyse_audio, loudness_from
from kickflow.media.binaries import available_filters
from kickflow.media.graph import SAFE_PATH, AnalysisOptions, Plan, build_plan, speech_lead
from kickflow.media.levels import Levels, LevelsReader, SilenceRule, output_args
from kickflow.media.metadata import MetaFrame, parse_metadata_print
from kickflow.media.model import (
    AudioStream,
    AudioTrack,
    DecodeErrors,
    GroupLoudness,
    Measurements,
    MediaInfo,
    SubtitleFile,
    TrackSpeech,
    VideoAnalysis,
)
from kickflow.media.picture import PictureLevels, PictureReader
from kickflow.media.picture import output_args as picture_output_args
from kickflow.media.pipes import PipeGroup, open_pipe
from kickflow.media.probing import ProbeLimits, probe
from kickflow.media.pse import PseFollower
from kickflow.media.runner import RunLimits, RunResult, StampedLine, run_ffmpeg
from kickflow.media.timed_outputs import SubtitleOutput, pad_start, read_shots
from kickflow.media.video import analyse_video

log = logging.getLogger("kickflow.analysis")
FractionCallback = Callable[[float], None]
# Track position → its 16 kHz mono PCM, and the programme's end (s): what was heard on each.
SpeechRun = Callable[[Mapping[int, Path], float], tuple[TrackSpeech, ...]]


@runtime_checkable
class FollowingSpeech(Protocol):
    """A speech run that can listen while the run writes the PCM (speech/stage.py)."""

    def follow(self, files: Mapping[int, Path], leads: Mapping[int, float]) -> None: ...

    def written(self, *, complete: bool) -> None: ...


# Options (and the speech run) worked out from the probed file: what the profile asks of it.
Setup = Callable[[MediaInfo], tuple[AnalysisOptions, "SpeechRun | None"]]
PROBE_SHARE = 0.01  # of the progress fraction: the file is probed, the run is planned
FFMPEG_SHARE = 0.95  # …and up to here the decode; reading and listening afterwards get the rest
SPEECH_BATCH = 2  # tracks handed to the speech run at a time (it listens to two in parallel)
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
    "peaks": ("lavfi.astats.",),
    "group": ("lavfi.r128.M", "lavfi.r128.S", "lavfi.r128.I", "lavfi.r128.LRA="),
    "music": ("lavfi.aspectralstats.1.flatness", "lavfi.astats.1.RMS_level"),
    "video": ("lavfi.black_", "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end",
              "lavfi.cropdetect."),
    "idet": ("lavfi.idet.single.current_frame",),
}  # fmt: skip


@dataclass
class Steps:
    """Progress after FFmpeg: each finished step moves the fraction from FFMPEG_SHARE to 1."""

    on_fraction: FractionCallback | None
    total: int
    done: int = 0

    def step(self) -> None:
        self.done = min(self.total, self.done + 1)
        self.within(0.0)

    def within(self, fraction: float) -> None:
        """Part of the way through the next step (a step that has progress of its own)."""
        if self.on_fraction is not None and self.total:
            done = min(self.total, self.done + max(0.0, min(1.0, fraction)))
            self.on_fraction(FFMPEG_SHARE + (1 - FFMPEG_SHARE) * done / self.total)


def steps_of(plan: Plan) -> int:
    """The steps after FFmpeg: each track's files, the video, PSE, shots, subtitles, speech."""
    video = 2 if plan.video is not None else 0
    speech = -(-len(plan.speech_files) // SPEECH_BATCH)
    subtitles = len(plan.subtitle_files) + (1 if plan.subtitle_args else 0)
    return len(plan.audio_tracks) + video + 1 + subtitles + speech


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
    *,
    speech: SpeechRun | None = None,
    steps: Steps | None = None,
    pse_follower: PseFollower | None = None,
    levels: Mapping[int, Levels],
    picture: PictureLevels | None = None,
) -> Measurements:
    """Turn the branch files of a finished run into measurements (and listen to its speech).

    ``pse_follower`` has screened the PSE cells while the run wrote them (None: no PSE
    branch); ``levels`` are each track's window levels and ``picture`` the reduced picture's,
    measured as the run wrote them."""
    steps = steps or Steps(None, 0)
    vstats, idet = _read(plan, "video"), _read(plan, "idet")
    # Track 1's files are read once: their last frames also give the programme's end.
    first = _track_frames(plan, 1) if plan.audio_tracks else {}
    end_s = _end_of(media, first.get("loudness", []), vstats)
    if 1 in levels:
        end_s = max(end_s, levels[1].last_s())
    steps.step()
    tracks = _tracks(plan, options, first, levels, end_s, steps)
    loudness, audio = (tracks[0].loudness, tracks[0].audio) if tracks else (None, None)
    video = _video(plan, options, vstats, idet, picture, end_s)
    if plan.video is not None:
        steps.step()
    pse = pse_follower.result() if pse_follower is not None else None
    if plan.video is not None:
        steps.step()
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
        pse=pse,
        subtitles=_embedded_subtitles(plan.subtitle_files, steps),
        shot_changes=read_shots(plan.shots_file) if plan.shots_file is not None else None,
        speech=_listen(media, plan.speech_files, end_s, speech, steps),
    )


def _tracks(
    plan: Plan,
    options: AnalysisOptions,
    first: dict[str, list[MetaFrame]],
    levels: Mapping[int, Levels],
    end_s: float,
    steps: Steps,
) -> tuple[AudioTrack, ...]:
    """Every analysed track's measurements (track 1's files already read: ``first``)."""
    tracks = []
    for position, stream in enumerate(plan.audio_tracks, 1):
        frames = first if position == 1 else _track_frames(plan, position)
        tracks.append(_track(position, stream, frames, levels[position], options, end_s))
        steps.step()
    return tuple(tracks)


def _video(
    plan: Plan,
    options: AnalysisOptions,
    stats: list[MetaFrame],
    idet: list[MetaFrame],
    picture: PictureLevels | None,
    end_s: float,
) -> VideoAnalysis | None:
    if plan.video is None or plan.analysis_size is None:
        return None
    return analyse_video(
        plan.video,
        stats=stats,
        idet=idet,
        picture=picture,
        size=plan.analysis_size,
        sample_fps=options.sample_fps,
        end_s=end_s,
    )


def _embedded_subtitles(
    outputs: tuple[SubtitleOutput, ...], steps: Steps
) -> tuple[SubtitleFile, ...]:
    """Each text subtitle stream the run wrote, parsed (a stream that wrote nothing: no cues)."""
    parsed = []
    for out in outputs:
        parsed.append(_embedded(out))
        steps.step()
    return tuple(parsed)


def _embedded(out: SubtitleOutput) -> SubtitleFile:
    name, stream = f"stream #{out.stream.index} ({out.stream.codec})", out.stream
    if out.failed:
        error = f"{name} could not be read: FFmpeg could not convert it to text."
        return SubtitleFile(
            name, stream.codec, language=stream.language, stream_index=stream.index, error=error
        )
    from kickflow.subtitles.load import parse_subtitle_bytes  # pysubs2: only when there are any

    data = out.file.read_bytes() if out.file.is_file() else b""
    return parse_subtitle_bytes(
        data,
        name,
        format_hint=out.format_hint,
        language=out.stream.language,
        stream_index=out.stream.index,
    )


def _listen(
    media: MediaInfo,
    files: Mapping[int, Path],
    end_s: float,
    speech: SpeechRun | None,
    steps: Steps,
) -> tuple[TrackSpeech, ...]:
    """The speech run over the tracks' PCM, a batch at a time (each batch is a step)."""
    if speech is None or not files:
        return ()
    positions = sorted(files)
    for position in positions:
        pad_start(files[position], speech_lead(media, position))
    heard: list[TrackSpeech] = []
    for start in range(0, len(positions), SPEECH_BATCH):
        batch = {p: files[p] for p in positions[start : start + SPEECH_BATCH]}
        heard += speech(batch, end_s)
        steps.step()
    return tuple(sorted(heard, key=lambda t: t.position))


def _pse_follower(plan: Plan, options: AnalysisOptions) -> PseFollower | None:
    """A screening that follows the PSE cells as the run writes them, when the branch runs."""
    if plan.pse_file is None or options.pse is None or plan.video is None:
        return None
    return PseFollower(plan.pse_file, plan.video.frame_rate or 25.0, options.pse)


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
    names = ("loudness", "peaks", "music")
    return {n: _read(plan, n, position) for n in names}


def _track(
    position: int,
    stream: AudioStream,
    frames: dict[str, list[MetaFrame]],
    levels: Levels,
    options: AnalysisOptions,
    end_s: float,
) -> AudioTrack:
    """One audio track's loudness and analysis, from its own branches of the graph."""
    audio = analyse_audio(
        stream,
        levels=levels,
        music=frames["music"],
        end_s=end_s,
        window_s=options.window_s,
        clip_peak_dbfs=options.clip_peak_dbfs,
    )
    loudness = loudness_from(
        frames["loudness"], stream.channels, frames["peaks"], levels.channel_peaks_db()
    )
    return AudioTrack(position, stream, loudness, audio)


def _ignore(_fraction: float) -> None:
    """No progress callback: nothing to tell."""


def _analysis_run(
    binary: str,
    plan: Plan,
    media: MediaInfo,
    path: Path,
    limits: RunLimits,
    on_fraction: FractionCallback | None,
    taps: Taps,
) -> RunResult:
    """The one decode, its progress filling the fraction from PROBE_SHARE to FFMPEG_SHARE;
    its raw outputs go to the ``taps``' pipes."""
    duration = media.duration_s

    def seconds_done(seconds: float) -> None:
        if on_fraction is not None:
            done = min(1.0, seconds / duration) if duration else 0.0
            on_fraction(PROBE_SHARE + (FFMPEG_SHARE - PROBE_SHARE) * done)

    try:
        return run_ffmpeg(
            binary, [*plan.args, *taps.args], limits=limits, duration_s=duration,
            on_progress=seconds_done, pass_fds=taps.fds,
        )  # fmt: skip
    except FfmpegFailed as exc:
        if refused_at_open(exc.stderr_tail):
            raise FormatRefused(
                f"refused: FFmpeg does not open {path.name} as {media.format_name}, the "
                "format the probe found; it may be a disguised manifest or playlist"
            ) from None
        raise


def _subtitle_run(
    binary: str, plan: Plan, media: MediaInfo, limits: RunLimits, steps: Steps
) -> tuple[SubtitleOutput, ...]:
    """Write the text subtitle streams (demuxed again, nothing decoded); what it wrote.

    A stream FFmpeg cannot convert must not stop the QC of the media: then none is read, and
    each such stream is reported with the reason (see :func:`_embedded_subtitles`).
    """
    if not plan.subtitle_args:
        return plan.subtitle_files
    duration = media.duration_s

    def seconds_done(seconds: float) -> None:
        steps.within(min(1.0, seconds / duration) if duration else 0.0)

    try:
        run_ffmpeg(
            binary, plan.subtitle_args, limits=limits, duration_s=duration,
            on_progress=seconds_done,
        )  # fmt: skip
    except FfmpegFailed as exc:
        log.warning("subtitle streams of %s not read: %s", media.path, exc.stderr_tail[-500:])
        return tuple(replace(out, failed=True) for out in plan.subtitle_files)
    finally:
        steps.step()
    return plan.subtitle_files


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
    speech: SpeechRun | None = None,
    setup: Setup | None = None,
) -> Measurements:
    """Probe ``path`` (in a child, within the caps) and run the single analysis pass over it.

    ``setup``, when given, replaces ``options`` and ``speech`` with what it makes of the probed
    file (which tracks to listen to depends on the file's streams). ``speech`` is called after
    FFmpeg with the listened tracks' PCM files, while they still exist; one that can follow
    the files as they are written (``FollowingSpeech``) is told about them before FFmpeg
    starts, and that the run ended, before it is called.
    """
    moved = on_fraction or _ignore
    media = probe(path, size_bytes, probe_limits)
    moved(PROBE_SHARE / 2)
    if setup is not None:
        options, speech = setup(media)
        moved(PROBE_SHARE)
    if work_dir is not None and not SAFE_PATH.match(str(work_dir)):
        work_dir = None  # the graph names files inside it; fall back to the system temp dir
    work = Path(tempfile.mkdtemp(prefix="kickflow-analysis-", dir=work_dir))
    try:
        plan = build_plan(
            media, path, work, options, available_filters(binary), probe_limits.max_frame_pixels
        )
        following = speech if isinstance(speech, FollowingSpeech) else None
        if following is not None:
            leads = {p: speech_lead(media, p) for p in plan.speech_files}
            following.follow(plan.speech_files, leads)
        pse = _pse_follower(plan, options)
        taps = _taps(media, plan, options)
        started = time.monotonic()
        complete = False
        try:
            result = _analysis_run(binary, plan, media, path, limits, on_fraction, taps)
            complete = True
        finally:
            if following is not None:
                following.written(complete=complete)
            if pse is not None:
                pse.written(complete=complete)
            taps.wait()  # FFmpeg has ended: its pipes are closed
        elapsed = time.monotonic() - started
        levels = {position: reader.result() for position, reader in taps.levels.items()}
        picture = taps.picture.result() if taps.picture is not None else None
        steps = Steps(on_fraction, steps_of(plan))
        written = _subtitle_run(binary, plan, media, limits, steps)
        return measure(
            media,
            replace(plan, subtitle_files=written),
            options,
            decode_errors_from(result.log_lines),
            elapsed,
            speech=speech,
            steps=steps,
            pse_follower=pse,
            levels=levels,
            picture=picture,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Taps:
    """The run's raw outputs, each read from a pipe as the run writes it: every analysed
    track's samples (its window levels) and the reduced picture (its levels)."""

    levels: dict[int, LevelsReader] = field(default_factory=dict)
    picture: PictureReader | None = None
    args: list[str] = field(default_factory=list)  # the outputs, for FFmpeg's command line
    fds: tuple[int, ...] = ()  # the pipes' write ends, handed to FFmpeg

    def wait(self) -> None:
        for reader in (*self.levels.values(), *([self.picture] if self.picture else [])):
            reader.wait()


def _taps(media: MediaInfo, plan: Plan, options: AnalysisOptions) -> Taps:
    """A reader per raw output of the plan, each on its own pipe, all read by one thread."""
    taps, fds, group = Taps(), [], PipeGroup()
    rule = SilenceRule(options.silence_threshold_db, options.silence_min_s)
    try:
        for position, stream in enumerate(plan.audio_tracks, 1):
            read_end, write_end = open_pipe()
            fds.append(write_end)
            lead = speech_lead(media, position)
            taps.levels[position] = LevelsReader(
                read_end, stream.channels, stream.sample_rate, options.window_s, lead, rule, group
            )
            taps.args += output_args(plan.level_pads[position], write_end)
        if plan.picture_pad and plan.picture_format and plan.analysis_size:
            read_end, write_end = open_pipe()
            fds.append(write_end)
            taps.picture = PictureReader(read_end, plan.analysis_size, plan.picture_format, group)
            taps.args += picture_output_args(plan.picture_pad, write_end)
    except BaseException:  # out of descriptors, say: the readers so far must see their end
        for fd in fds:
            os.close(fd)
        raise
    finally:
        group.start()
    taps.fds = tuple(fds)
    return taps
