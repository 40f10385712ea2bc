"""The one-decode filter graph: every analysis is a branch of one ``-filter_complex``.

Each branch ends in ``metadata=print``/``ametadata=print`` writing to its own file, so the
results are FFmpeg's own per-frame metadata (structured ``key=value``), parsed afterwards.
Per-pixel statistics run on a decimated, downscaled picture unless the profile asks for
frame-accurate analysis; interlace detection looks at short runs of full-resolution frames,
because idet compares neighbouring frames. PSE cells, each track's samples (on a pipe, for its
window levels) and the listened tracks' speech PCM are raw outputs of the same run
(media/pse.py, media/levels.py, media/timed_outputs.py); text subtitle streams are written by
a second, demux-only run (:func:`subtitle_run_args`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kickflow.media.audio import PEAK_METER, TRUE_PEAK_FILTER, TRUE_PEAK_RATE
from kickflow.media.levels import chain as levels_chain
from kickflow.media.model import AudioStream, MediaInfo, VideoStream
from kickflow.media.music import chain as music_chain
from kickflow.media.picture import analysed_format
from kickflow.media.picture import chain_end as picture_chain_end
from kickflow.media.pse import PseOptions, output_args, pse_chain
from kickflow.media.timed_outputs import (
    SubtitleOutput,
    shot_graph,
    shots_file,
    speech_file,
    speech_graph,
    speech_output_args,
    subtitle_output_args,
    subtitle_outputs,
)

SAFE_PATH = re.compile(r"^[A-Za-z0-9_./-]+$")
SAFE_LAYOUT = re.compile(r"^[a-z0-9.]+(\([a-z-]+\))?$")


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
    max_audio_tracks: int = 16  # audio streams analysed per file; the rest are counted, not read
    # Channel groups (discrete mono): (name, 1-based track positions, layout) measured as one.
    groups: tuple[tuple[str, tuple[int, ...], str], ...] = ()
    # The profile's layout for streams that do not declare one: (FFmpeg name, channel count),
    # per track position (index 0 = track 1), then for any track.
    track_layouts: tuple[tuple[str, int] | None, ...] = ()
    channel_layout: tuple[str, int] | None = None
    pse: PseOptions | None = None  # flash screening of every frame (media/pse.py); None: off
    # Timed text and speech (media/timed_outputs.py): 1-based audio track positions whose
    # 16 kHz mono PCM is written, cuts found on every frame, text subtitle streams written.
    speech_tracks: tuple[int, ...] = ()
    shot_changes: bool = False
    subtitle_streams: bool = False
    # audio.music_bed: 1-based positions of the tracks whose music-bed branch runs.
    music_tracks: tuple[int, ...] = ()


@dataclass(frozen=True)
class Branch:
    name: str  # "loudness", "peaks", "music", "group", "video", "idet"
    file: Path
    track: int = 0  # 1-based audio track position for audio branches; 0 for video

    @property
    def label(self) -> str:
        """The branch's unique name in the graph: ``loudness2`` for track 2's loudness."""
        return f"{self.name}{self.track}" if self.track else self.name


@dataclass(frozen=True)
class Plan:
    args: list[str]
    branches: tuple[Branch, ...]
    audio: AudioStream | None  # track 1
    video: VideoStream | None
    analysis_size: tuple[int, int] | None
    audio_tracks: tuple[AudioStream, ...] = ()  # every analysed audio stream, in file order
    unanalysed_audio: int = 0  # audio streams beyond ``max_audio_tracks``
    pse_file: Path | None = None  # raw cell frames of the PSE branch (its own output)
    groups: tuple[tuple[str, tuple[int, ...], str], ...] = ()  # the groups measured
    shots_file: Path | None = None  # cuts printed by scdet; None: not run
    speech_files: dict[int, Path] = field(default_factory=dict)  # track position → its PCM
    subtitle_files: tuple[SubtitleOutput, ...] = ()  # text streams, written by ``subtitle_args``
    subtitle_args: list[str] = field(default_factory=list)  # the demux-only run writing them
    # Track position → the pad its samples leave by (to a pipe: levels.output_args).
    level_pads: dict[int, str] = field(default_factory=dict)
    # The statistics branch's reduced picture leaves by this pad (picture.output_args), in
    # this format; None without video.
    picture_pad: str | None = None
    picture_format: str | None = None


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


def _audio_chains(
    a: AudioStream, opt: AnalysisOptions, work: Path, track: int = 1
) -> list[tuple[Branch, str]]:
    """Loudness, true-peak and music-bed branches of a track (its window levels and silences
    are measured on its samples, which leave the graph: media/levels.py)."""

    def branch(name: str) -> Branch:
        suffix = "" if track == 1 else f"_t{track}"
        return Branch(name, work / f"{name}{suffix}.txt", track)

    chains = [
        (branch("loudness"), "ebur128=metadata=1"),
        # True peaks: ebur128's own 192 kHz interpolation, without a second loudness meter;
        # in floating point (left to negotiation, 24-bit sources came out as s16), 0.1-s
        # windows (only the maximum is read). Not 1-s ones: a 5.1 track's 1-s frame at 192 kHz
        # is 4.6 MB held per track, and the run's memory grew with the track count.
        (
            branch("peaks"),
            f"aresample={TRUE_PEAK_RATE}:{TRUE_PEAK_FILTER},aformat=sample_fmts=fltp|dblp,"
            f"asetnsamples=n={TRUE_PEAK_RATE // 10}:p=0,{PEAK_METER}",
        ),
    ]
    if track in opt.music_tracks:
        # Music & effects presence: a 16 kHz mono downmix in 25 ms windows (media/music.py).
        chains.append((branch("music"), music_chain(a.channels)))
    return chains


def _video_chains(
    v: VideoStream, opt: AnalysisOptions, work: Path, filters: frozenset[str]
) -> list[tuple[Branch, str]]:
    w, h = analysis_size(v, opt.analysis_width)
    decimate = f"fps={opt.sample_fps}," if opt.sample_fps else ""
    crop = "cropdetect=round=2:reset=1," if opt.crop and "cropdetect" in filters else ""
    # The picture's levels are measured on the frames this branch outputs (media/picture.py).
    stats = (
        f"{decimate}scale={w}:{h}:flags=area,format=pix_fmts={analysed_format(v)},"
        f"blackdetect=d={opt.black_min_s}:pix_th={opt.black_pixel_threshold}"
        f":pic_th={opt.black_picture_ratio},"
        f"freezedetect=n={opt.freeze_noise}:d={opt.freeze_min_s},"
        f"{crop}{picture_chain_end()}"
    )
    chains = [(Branch("video", work / "video.txt"), stats)]
    if opt.sample_fps:
        run, every = opt.interlace_run, opt.interlace_every
        idet = f"select='lt(mod(n\\,{every})\\,{run})',idet"
    else:
        idet = "idet"
    chains.append((Branch("idet", work / "idet.txt"), idet))
    return chains


def _declared_layout(stream: AudioStream, opt: AnalysisOptions, position: int) -> str:
    """``channelmap=…,`` giving an unmasked stream the profile's layout (its loudness weights).

    Without it FFmpeg assumes its default for the channel count (6 channels: 5.1).
    """
    if stream.channels <= 2 or not (stream.layout or "channels").endswith("channels"):
        return ""
    given = opt.track_layouts[position - 1] if position <= len(opt.track_layouts) else None
    name, count = given or opt.channel_layout or ("", 0)
    if count != stream.channels or not SAFE_LAYOUT.match(name):
        return ""
    return f"channelmap=channel_layout={name},"


def _fan_out(
    source: str,
    split: str,
    chains: list[tuple[Branch, str]],
    kind: str,
    raw: tuple[str, str] | None = None,
) -> tuple[list[str], str]:
    """One use of a stream split into every branch, each printing to its own file; and the
    graph's output pad.

    A graph needs one output. With ``raw`` (a chain and its output pad) the stream itself
    leaves the graph that way (a track's samples for its levels); otherwise the first branch's
    output does (the video statistics' reduced picture, for its levels). Every other branch
    ends in a null sink, so its frames are not converted and encoded for nothing (with five
    branches a track, that was a twentieth of the decode's cost).
    """
    sink = "anullsink" if kind == "ametadata" else "nullsink"
    ends = [f"{chain},{_print(kind, branch)}" for branch, chain in chains]
    labels = [f"[s_{branch.label}]" for branch, _ in chains]
    if raw is not None:
        output = raw[1]
        ends = [f"{end},{sink}" for end in ends] + [f"{raw[0]}{output}"]
        labels.append(f"[s_{output[1:-1]}]")
    else:
        output = f"[o_{chains[0][0].label}]"
        ends = [f"{ends[0]}{output}"] + [f"{end},{sink}" for end in ends[1:]]
    if len(ends) == 1:
        return [f"{source}{ends[0]}"], output
    parts = [f"{source}{split}={len(ends)}{''.join(labels)}"]
    parts += [f"{label}{end}" for label, end in zip(labels, ends, strict=True)]
    return parts, output


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
    tracks = media.audio[: max(0, options.max_audio_tracks)]
    video = media.video[0] if media.video else None
    graph: list[str] = []
    # One filter graph per audio track: FFmpeg (7+) runs each graph in its own thread, so the
    # tracks' meters run side by side; the input is still demuxed and decoded once.
    audio_graphs: list[str] = []
    outputs: list[str] = []  # each graph's one output pad, mapped to the null output…
    level_pads: dict[int, str] = {}  # …but the tracks': their samples, for media/levels.py
    chains_a: list[tuple[Branch, str]] = []
    for position, stream in enumerate(tracks, 1):
        chains = _audio_chains(stream, options, work, position)
        pad = f"[0:{stream.index}]{_declared_layout(stream, options, position)}"
        raw = (levels_chain(stream.sample_rate), f"[o_levels{position}]")
        parts, level_pads[position] = _fan_out(pad, "asplit", chains, "ametadata", raw)
        audio_graphs.append(";".join(parts))
        chains_a += chains
    groups = tuple(g for g in options.groups if _group_fits(g, tracks))
    for number, group in enumerate(groups, 1):
        branch, chain = _group_chain(group, tracks, work, number)
        audio_graphs.append(chain)
        outputs.append(f"[o_{branch.label}]")
        chains_a.append((branch, chain))
    chains_v = _video_chains(video, options, work, filters) if video else []
    picture_pad = None
    if video:
        graph, picture_pad = _fan_out(f"[0:{video.index}]", "split", chains_v, "metadata")
    branches = tuple(b for b, _ in chains_a + chains_v)
    # PSE and shot changes look at every frame, not the sampled picture: other users of the
    # video stream (decoded once, the frames shared), on one tiny picture between them.
    pse_file = _pse_file(video, options, work)
    shots = shots_file(work) if video is not None and options.shot_changes else None
    if video is not None and shots is not None:
        graph.append(shot_graph(video.index, shots, with_pse=pse_file is not None))
    elif video is not None and pse_file is not None:
        graph.append(f"[0:{video.index}]{pse_chain()}[o_pse]")
    speech = _speech_files(media, options, work)
    audio_graphs += [speech_graph(media.audio[p - 1], p) for p in speech]
    # Each graph runs in a thread of its own; slice threads inside one (FFmpeg's default: a
    # pool per graph, as many as there are cores) cost more in hand-offs than they save on
    # these small pictures: on 1-min 1080p25, 4 % of the run's CPU time and 4 % (11 % when
    # frame-accurate) of its wall time, the decoder keeping every core busy anyway.
    args = ["-filter_complex_threads", "1", *safe_input(source, media.format_name, max_pixels)]
    for each in (";".join(graph), *audio_graphs):
        args += ["-filter_complex", each] if each else []
    for output in outputs:
        args += ["-map", output]
    args += ["-map", "[o_shots]"] if shots is not None else []
    args += ["-f", "null", "-"] if outputs or shots is not None else []
    if pse_file is not None:
        args += output_args("[o_pse]", pse_file)
    for position, file in speech.items():
        args += speech_output_args(position, file)
    subtitles = subtitle_outputs(media.subtitles, work) if options.subtitle_streams else ()
    subtitle_args = subtitle_run_args(media, source, subtitles, max_pixels)
    size = analysis_size(video, options.analysis_width) if video else None
    first = tracks[0] if tracks else None
    skipped = len(media.audio) - len(tracks)
    return Plan(
        args, branches, first, video, size, tuple(tracks), skipped, pse_file=pse_file,
        groups=groups, shots_file=shots, speech_files=speech, subtitle_files=subtitles,
        subtitle_args=subtitle_args, level_pads=level_pads, picture_pad=picture_pad,
        picture_format=analysed_format(video) if video else None,
    )  # fmt: skip


def subtitle_run_args(
    media: MediaInfo,
    source: Path,
    outputs: Sequence[SubtitleOutput],
    max_pixels: int | None = None,
) -> list[str]:
    """A demux-only run (nothing decoded but the subtitles) writing the text streams.

    Not part of the analysis run: FFmpeg 9's scheduler can stall that run for good when a
    sparse subtitle output waits behind the filter graphs (reproduced about 1 run in 4 here).
    A copy of the first stream to ``null`` keeps its progress clock moving between cues.
    """
    if not outputs:
        return []
    clock = (media.video or media.audio)[0].index if (media.video or media.audio) else None
    args = safe_input(source, media.format_name, max_pixels)
    if clock is not None:
        args += ["-map", f"0:{clock}", "-c", "copy", "-f", "null", "-"]
    for out in outputs:
        args += subtitle_output_args(out)
    return args


def speech_lead(media: MediaInfo, position: int) -> float:
    """How much later than the programme (its earliest stream, FFmpeg's time 0) a track starts."""
    if not 1 <= position <= len(media.audio):
        return 0.0
    starts = [v.start_s for v in media.video] + [a.start_s for a in media.audio]
    return media.audio[position - 1].start_s - min(starts)


def _speech_files(media: MediaInfo, options: AnalysisOptions, work: Path) -> dict[int, Path]:
    """Where each listened track's PCM goes (positions the file does not have are skipped)."""
    positions = sorted({p for p in options.speech_tracks if 1 <= p <= len(media.audio)})
    return {p: speech_file(work, p) for p in positions}


def _group_fits(group: tuple[str, tuple[int, ...], str], tracks: Sequence[AudioStream]) -> bool:
    """Every member is an analysed mono track at one sample rate (amerge needs both)."""
    _, positions, layout = group
    if not SAFE_LAYOUT.match(layout) or any(p < 1 or p > len(tracks) for p in positions):
        return False
    members = [tracks[p - 1] for p in positions]
    return all(m.channels == 1 for m in members) and len({m.sample_rate for m in members}) == 1


def _group_chain(
    group: tuple[str, tuple[int, ...], str], tracks: Sequence[AudioStream], work: Path, number: int
) -> tuple[Branch, str]:
    """The members merged into one stream with the group's layout, into a loudness meter."""
    _, positions, layout = group
    pads = "".join(f"[0:{tracks[p - 1].index}]" for p in positions)
    channels = "|".join(f"c{c}=c{c}" for c in range(len(positions)))
    branch = Branch("group", work / f"group_{number}.txt", number)
    chain = (
        f"{pads}amerge=inputs={len(positions)},pan={layout}|{channels},"
        f"ebur128=metadata=1,{_print('ametadata', branch)}[o_{branch.label}]"
    )
    return branch, chain


def _pse_file(video: VideoStream | None, options: AnalysisOptions, work: Path) -> Path | None:
    """Where the PSE branch writes its cells, when it runs (a video stream, screening on)."""
    if video is None or options.pse is None:
        return None
    file = work / "pse.rgb48"
    if not SAFE_PATH.match(str(file)):
        raise ValueError(f"unsafe path for a filter graph: {file}")
    return file
