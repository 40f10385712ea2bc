"""Measurements: what probing and the one-pass analysis produce; what checks consume.

Plain frozen dataclasses with JSON-friendly fields, so checks and reports stay pure and can be
unit-tested with hand-made values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints

from kickflow.media.pse import PseAnalysis


@dataclass(frozen=True)
class Segment:
    """A time range in seconds; ``channel`` is 1-based when the segment concerns one channel."""

    start_s: float
    end_s: float
    channel: int | None = None

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    profile: str | None
    width: int
    height: int
    frame_rate: float | None  # nominal (r_frame_rate / base rate)
    avg_frame_rate: float | None
    variable_frame_rate: bool
    scan: str  # "progressive" | "tff" | "bff" | "unknown" (from stream field order)
    pix_fmt: str | None
    bit_depth: int | None
    color_range: str | None
    color_primaries: str | None
    color_transfer: str | None
    color_space: str | None
    start_s: float
    duration_s: float | None


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str | None
    start_s: float
    duration_s: float | None
    language: str | None = None  # the stream's ``language`` tag (ISO 639), as written
    title: str | None = None  # the stream's ``title`` tag


@dataclass(frozen=True)
class SubtitleStream:
    """A subtitle stream inside the container; ``text`` ones can be read, bitmap ones not."""

    index: int
    codec: str  # FFmpeg's codec name: mov_text, subrip, ass, webvtt, dvb_subtitle, hdmv_pgs…
    text: bool  # text-based (readable); False for bitmap subtitles (DVB, PGS, DVD)
    language: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size_bytes: int
    format_name: str
    duration_s: float | None
    bit_rate: int | None
    video: tuple[VideoStream, ...] = ()
    audio: tuple[AudioStream, ...] = ()
    subtitle_streams: int = 0
    data_streams: int = 0
    timecode: str | None = None  # start timecode tag (tmcd, stream or MXF material package)
    subtitles: tuple[SubtitleStream, ...] = ()  # every subtitle stream, in file order

    @property
    def primary_frame_rate(self) -> float | None:
        return self.video[0].frame_rate if self.video else None


@dataclass(frozen=True)
class LoudnessPoint:
    """One point of the loudness curve: time, momentary and short-term loudness (LUFS)."""

    t: float
    momentary: float | None
    short_term: float | None


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float | None  # None when the whole programme is below the absolute gate
    range_lu: float | None
    true_peak_dbtp: float | None
    sample_peak_dbfs: float | None
    channel_true_peaks_dbtp: tuple[float | None, ...] = ()
    curve: tuple[LoudnessPoint, ...] = ()
    channel_sample_peaks_dbfs: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class BedBlock:
    """One block of a track's music-bed statistics (media/music.py): 25 ms window levels of
    its mono downmix, and how much of it sounds like noise (effects) rather than voice."""

    t: float  # block start, seconds
    floor_dbfs: float | None  # 5th percentile of window RMS; None = digital silence
    median_dbfs: float | None
    top_dbfs: float | None  # 90th percentile
    active_share: float  # windows above the activity floor
    noise_share: float  # of the active windows, the spectrally flat (noise-like) ones


@dataclass(frozen=True)
class AudioAnalysis:
    stream_index: int
    channels: int
    silence: tuple[Segment, ...] = ()  # the whole mix is silent
    channel_silence: tuple[Segment, ...] = ()  # one channel is silent (channel set)
    clipping: tuple[Segment, ...] = ()  # windows whose peak is at/near full scale, merged
    clipped_windows: int = 0
    windows: int = 0
    dc_offset: tuple[float, ...] = ()  # per channel, mean of per-window DC offsets (-1..1)
    phase_mean: float | None = None  # stereo correlation -1..1 over non-silent windows
    out_of_phase: tuple[Segment, ...] = ()  # stereo correlation strongly negative
    mono_as_stereo: bool = False  # L and R identical over the programme
    analysed_duration_s: float = 0.0
    bed_blocks: tuple[BedBlock, ...] = ()  # music & effects presence statistics, per block


@dataclass(frozen=True)
class AudioTrack:
    """One audio stream's measurements: its loudness and its silence/clipping/phase analysis."""

    position: int  # 1-based order among the file's audio streams ("Track 2")
    stream: AudioStream
    loudness: Loudness
    audio: AudioAnalysis


@dataclass(frozen=True)
class GroupLoudness:
    """Mono tracks measured together as one programme (discrete-mono deliveries)."""

    name: str
    positions: tuple[int, ...]  # 1-based track positions, in channel order
    layout: str
    loudness: Loudness


@dataclass(frozen=True)
class LevelSample:
    """Per analysed frame: share of pixels outside broadcast range (0..1) and Y extremes."""

    t: float
    out_of_range: float
    y_min: float
    y_max: float
    # Chroma extremes (Cb = U, Cr = V), in the same bit depth; None in reports made before.
    u_min: float | None = None
    u_max: float | None = None
    v_min: float | None = None
    v_max: float | None = None


@dataclass(frozen=True)
class CropArea:
    """The active picture area found by cropdetect, in full-resolution pixels."""

    width: int
    height: int
    x: int
    y: int


@dataclass(frozen=True)
class VideoAnalysis:
    stream_index: int
    width: int
    height: int
    bit_depth: int
    sample_fps: float | None  # None = every frame analysed (frame-accurate mode)
    black: tuple[Segment, ...] = ()
    freeze: tuple[Segment, ...] = ()
    levels: tuple[LevelSample, ...] = ()
    interlaced: tuple[Segment, ...] = ()  # runs of frames idet calls interlaced
    interlace_counts: dict[str, int] = field(
        default_factory=dict
    )  # tff/bff/progressive/undetermined
    crop: CropArea | None = None
    frames_analysed: int = 0
    analysed_duration_s: float = 0.0


@dataclass(frozen=True)
class DecodeErrors:
    count: int = 0
    times_s: tuple[float, ...] = ()
    samples: tuple[str, ...] = ()  # a few of FFmpeg's messages, for the report


@dataclass(frozen=True)
class Cue:
    """One subtitle event as the file gives it."""

    number: int  # 1-based position in the file, in file order (what an operator counts)
    start_s: float
    end_s: float
    text: str  # plain text: markup removed, one "\n" between lines
    raw: str = ""  # as written, markup kept (for the forbidden-markup check)
    line: int | None = None  # line of the source file the cue starts on, when known


@dataclass(frozen=True)
class ParseProblem:
    """Something in a subtitle file that could not be read as written."""

    line: int | None
    message: str  # one sentence


@dataclass(frozen=True)
class SubtitleFile:
    """A timed-text file (sidecar) or a text subtitle stream of the container, parsed."""

    name: str  # as delivered ("EP01.en.srt"), or "stream #3 (mov_text)" for an embedded one
    format: str  # srt | vtt | ttml | ass | ssa | … (pysubs2's names) or the stream's codec
    encoding: str | None = None  # detected: utf-8, utf-8-sig, cp1252, utf-16…
    bom: bool = False
    language: str | None = None  # from the file name, the stream tag or the document
    stream_index: int | None = None  # the container stream; None for a sidecar file
    cues: tuple[Cue, ...] = ()
    problems: tuple[ParseProblem, ...] = ()
    error: str | None = None  # the file could not be read at all: one sentence naming it
    size_bytes: int = 0
    encoding_line: int | None = None  # first line that is not valid UTF-8 (a legacy encoding)


@dataclass(frozen=True)
class TranscriptSegment:
    start_s: float  # programme time
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What the transcription provider heard on one track (speech audio only was sent)."""

    model: str
    language: str | None  # as the provider detected it (ISO 639-1 where it says so)
    segments: tuple[TranscriptSegment, ...] = ()
    audio_seconds_sent: float = 0.0
    bytes_sent: int = 0
    requests: int = 0
    unsent_s: float = 0.0  # speech left out because the transcription budget ran out


@dataclass(frozen=True)
class TrackSpeech:
    """Voice activity (and, when asked, the transcript) of one audio track."""

    position: int  # 1-based audio track position
    segments: tuple[Segment, ...] = ()  # speech, in programme time
    analysed_s: float = 0.0
    transcript: Transcript | None = None
    transcription_error: str | None = None  # one sentence; None when not asked or it worked

    @property
    def speech_s(self) -> float:
        return sum(s.duration_s for s in self.segments)


@dataclass(frozen=True)
class Measurements:
    """Everything known about one file after probing and analysing it."""

    media: MediaInfo
    loudness: Loudness | None = None
    audio: AudioAnalysis | None = None
    video: VideoAnalysis | None = None
    decode_errors: DecodeErrors = DecodeErrors()
    analysis_seconds: float = 0.0
    # Every analysed audio stream in file order; ``loudness``/``audio`` above are track 1's.
    audio_tracks: tuple[AudioTrack, ...] = ()
    unanalysed_audio: int = 0  # audio streams beyond the per-file analysis cap
    audio_groups: tuple[GroupLoudness, ...] = ()  # the profile's channel groups, measured
    pse: PseAnalysis | None = None  # flash screening of every frame; None: not run
    subtitles: tuple[SubtitleFile, ...] = ()  # sidecar files, then readable embedded streams
    shot_changes: tuple[float, ...] | None = None  # cut times (s, every frame); None: not run
    speech: tuple[TrackSpeech, ...] = ()  # voice activity of the tracks that were listened to


def from_json(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` (dataclasses, tuples, optionals) from its JSON form."""
    if data is None:
        return None
    if is_dataclass(tp) and isinstance(tp, type):
        hints = get_type_hints(tp)
        known = {f.name for f in fields(tp) if f.init}
        return tp(**{k: from_json(hints[k], v) for k, v in data.items() if k in known})
    origin, args = get_origin(tp), get_args(tp)
    if origin is tuple:
        return tuple(from_json(args[0], item) for item in data)
    if origin is UnionType:
        return from_json(next(a for a in args if a is not type(None)), data)
    return data
