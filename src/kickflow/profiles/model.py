"""The delivery-spec profile: what a file must look like, and how loudly each check complains.

Every section is a frozen pydantic model that forbids unknown keys, so a typo in a TOML file is
an error naming the key instead of a silently ignored setting.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from kickflow.profiles.music_spec import MusicBedSpec
from kickflow.profiles.sections import Section
from kickflow.profiles.speech_spec import SpeechSpec
from kickflow.profiles.subtitle_spec import SUBTITLE_SEVERITY, SubtitleSpec

Severity = Literal["error", "warning", "info", "off"]
Scan = Literal["progressive", "tff", "bff", "unknown"]

# Stable ids: reports, the API and profiles' [severity] tables refer to them.
CHECK_IDS: tuple[str, ...] = (
    "container.streams",
    "media.decode_errors",
    "media.duration_mismatch",
    "video.format",
    "video.black",
    "video.freeze",
    "video.levels",
    "video.interlace",
    "video.letterbox",
    "video.pse",
    "audio.missing",
    "audio.format",
    "audio.loudness",
    "audio.true_peak",
    "audio.silence",
    "audio.clipping",
    "audio.channels",
    "audio.phase",
    "audio.layout",
    "audio.dc_offset",
    "delivery.file_name",
    # Timed text (checks/subtitles.py)
    "subtitle.files",
    "subtitle.parse",
    "subtitle.encoding",
    "subtitle.empty",
    "subtitle.line_length",
    "subtitle.lines",
    "subtitle.reading_speed",
    "subtitle.duration",
    "subtitle.gap",
    "subtitle.overlap",
    "subtitle.bounds",
    "subtitle.shot_change",
    "subtitle.markup",
    # Music and effects (checks/music_bed.py)
    "audio.music_bed",
    # Speech (checks/speech.py)
    "speech.dialogue_presence",
    "speech.subtitle_sync",
    "speech.dub_timing",
    "speech.transcription",  # checks/speech_language.py
    "speech.language",
    "subtitle.language",
)

DEFAULT_SEVERITY: dict[str, Severity] = {
    **dict.fromkeys(CHECK_IDS, "error"),
    "media.duration_mismatch": "warning",
    "video.interlace": "warning",
    "video.letterbox": "info",
    "audio.phase": "warning",
    "delivery.file_name": "warning",  # a misnamed file is renamed, not re-made: review
    **SUBTITLE_SEVERITY,  # Timed text
    # A provider outage is reported, not a failed file ([speech.transcription] required: error).
    "speech.transcription": "warning",
}


class LoudnessSpec(Section):
    standard: str = "ITU-R BS.1770-4"
    gating: Literal["programme"] = "programme"
    target_lufs: float
    tolerance_below_lu: float = Field(default=1.0, ge=0)
    tolerance_above_lu: float = Field(default=1.0, ge=0)
    max_true_peak_dbtp: float
    max_lra_lu: float | None = Field(default=None, gt=0)

    @property
    def min_lufs(self) -> float:
        return self.target_lufs - self.tolerance_below_lu

    @property
    def max_lufs(self) -> float:
        return self.target_lufs + self.tolerance_above_lu


class ContainerSpec(Section):
    formats: tuple[str, ...] = ()  # empty = any; matched against FFmpeg's format names
    max_av_duration_mismatch_s: float = Field(default=0.5, ge=0)
    # Headerless PCM (.pcm, .ul, .raw …) decodes from any bytes; off unless a spec needs it.
    allow_raw_pcm: bool = False


class VideoSpec(Section):
    required: bool = True
    codecs: tuple[str, ...] = ()  # empty = any
    resolutions: tuple[str, ...] = ()  # "1920x1080"; empty = any
    frame_rates: tuple[float, ...] = ()  # empty = any
    frame_rate_tolerance: float = Field(default=0.01, ge=0)
    allow_vfr: bool = False
    scan: tuple[Scan, ...] = ()  # allowed scan types; empty = any
    pix_fmts: tuple[str, ...] = ()  # empty = any
    frame_accurate: bool = False  # analyse every frame (catches single-frame flashes)
    sample_fps: float = Field(default=5.0, gt=0)  # frames per second analysed otherwise

    @field_validator("resolutions")
    @classmethod
    def _resolutions_are_wxh(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            width, _, height = item.partition("x")
            if not (width.isdigit() and height.isdigit()):
                raise ValueError(f"has {item!r}, which is not WIDTHxHEIGHT")
        return value


# The checks a layout's track can turn on or off (``checks = [...]`` in a ``[[audio.tracks]]``).
TRACK_CHECKS: tuple[str, ...] = (
    "audio.loudness",
    "audio.true_peak",
    "audio.silence",
    "audio.clipping",
    "audio.channels",
    "audio.phase",
    "audio.dc_offset",
)
ROLE = re.compile(r"^(mix|dialogue|me|stem|language:[a-z]{2,3}(-[a-z0-9]{1,8})*)$", re.IGNORECASE)
# FFmpeg's channel layout names and their channel counts (``5.1(side)`` counts as ``5.1``).
LAYOUT_CHANNELS: dict[str, int] = {
    "mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "4.0": 4, "quad": 4, "5.0": 5, "5.1": 6,
    "6.1": 7, "7.1": 8, "downmix": 2,
}  # fmt: skip


def layout_channels(layout: str) -> int | None:
    """The channel count of an FFmpeg layout name (``5.1(side)`` as ``5.1``); None if unknown."""
    return LAYOUT_CHANNELS.get(layout.split("(", maxsplit=1)[0])


def _known_layout_name(value: str) -> str:
    """``value`` when it is a layout name of LAYOUT_CHANNELS, else the validators' error."""
    if layout_channels(value) is None:
        raise ValueError(f"is {value!r}; use one of {', '.join(LAYOUT_CHANNELS)}")
    return value


class TrackSpec(Section):
    """One expected audio track of a delivery's layout, in file order."""

    role: str  # mix | dialogue | me (music & effects) | stem | language:<tag>
    layout: str | None = None  # FFmpeg layout name: mono, stereo, 5.1 …; None = any
    channels: int | None = Field(default=None, ge=1, le=64)  # when no layout name fits
    language: str | None = None  # expected stream language tag; language:<tag> implies it
    title: str | None = None  # words the stream title must contain (case-insensitive)
    channel: str | None = None  # discrete mono: which speaker this stream carries (L, LFE …)
    loudness: bool = True  # judged against [loudness]; false = no target, must carry signal
    target_lufs: float | None = None  # this track's own target; tolerances from [loudness]
    checks: tuple[str, ...] = TRACK_CHECKS  # the per-track checks that apply to it

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if not ROLE.match(value):
            raise ValueError(
                f"is {value!r}; use mix, dialogue, me, stem or language:<tag> (e.g. language:fra)"
            )
        return value

    @field_validator("layout")
    @classmethod
    def _known_layout(cls, value: str | None) -> str | None:
        return value if value is None else _known_layout_name(value)

    @field_validator("checks")
    @classmethod
    def _track_checks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(TRACK_CHECKS))
        if unknown:
            raise ValueError(
                f"has {unknown[0]!r}, not a per-track check ({', '.join(TRACK_CHECKS)})"
            )
        return value

    @model_validator(mode="after")
    def _layout_fits_channels(self) -> TrackSpec:
        if self.layout and self.channels and self.expected_channels != self.channels:
            raise ValueError(
                f"channels = {self.channels} does not fit layout {self.layout!r} "
                f"({self.expected_channels} channels)"
            )
        return self

    @property
    def expected_channels(self) -> int | None:
        if self.layout:
            return layout_channels(self.layout)
        return self.channels

    @property
    def expected_language(self) -> str | None:
        if self.language:
            return self.language
        return self.role.partition(":")[2] or None


class GroupSpec(Section):
    """Mono tracks that together make one programme (discrete mono): measured as one."""

    name: str = Field(min_length=1, max_length=60)
    tracks: tuple[int, ...]  # 1-based track positions, in the layout's channel order
    layout: str  # the programme's layout: the tracks become its channels, in order
    loudness: bool = True  # judged against [loudness]
    target_lufs: float | None = None

    @field_validator("layout")
    @classmethod
    def _known_layout(cls, value: str) -> str:
        return _known_layout_name(value)

    @model_validator(mode="after")
    def _one_track_per_channel(self) -> GroupSpec:
        wanted = LAYOUT_CHANNELS[self.layout.split("(", maxsplit=1)[0]]
        if len(self.tracks) != wanted or len(set(self.tracks)) != wanted:
            raise ValueError(
                f"tracks must name {wanted} different tracks for layout {self.layout!r}"
            )
        if min(self.tracks) < 1:
            raise ValueError("tracks are numbered from 1")
        return self


class AudioSpec(Section):
    required: bool = True
    codecs: tuple[str, ...] = ()
    sample_rates: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    tracks: tuple[TrackSpec, ...] = ()  # the expected track layout, in order; empty = none
    groups: tuple[GroupSpec, ...] = ()  # mono tracks measured together as one programme
    # The layout of streams whose file does not say (a WAV with no channel mask); None: the
    # analysis assumes FFmpeg's default for the channel count, and says so in a finding.
    channel_layout: str | None = None

    @field_validator("channel_layout")
    @classmethod
    def _known_channel_layout(cls, value: str | None) -> str | None:
        return value if value is None else _known_layout_name(value)


class SegmentSpec(Section):
    """When a detected run (black, freeze, silence) becomes a finding."""

    min_s: float = Field(default=2.0, ge=0)
    head_allowed_s: float = Field(default=0.0, ge=0)
    tail_allowed_s: float = Field(default=0.0, ge=0)


class LevelsSpec(Section):
    max_out_of_range: float = Field(default=0.01, ge=0, le=1)  # share of pixels (EBU R 103)
    min_s: float = Field(default=0.0, ge=0)


class ClippingSpec(Section):
    max_clipped_windows: int = Field(default=0, ge=0)  # windows tolerated before a finding
    min_s: float = Field(default=0.0, ge=0)


class ChannelsSpec(Section):
    dead_share: float = Field(default=0.9, gt=0, le=1)  # silent share of the programme
    dead_min_s: float = Field(default=10.0, gt=0)  # or one silent run at least this long
    ignore_lfe: bool = True  # an LFE channel is often legitimately silent


class DcOffsetSpec(Section):
    # Largest mean DC offset of a channel, as a share of full scale (0.01 = 1 % ≈ −40 dBFS).
    max_abs: float = Field(default=0.01, gt=0, le=1)


class PhaseSpec(Section):
    min_mean_correlation: float = Field(default=-0.2, ge=-1, le=1)
    out_of_phase_min_s: float = Field(default=1.0, ge=0)
    flag_mono_as_stereo: bool = True


class LetterboxSpec(Section):
    min_bar_share: float = Field(default=0.02, ge=0, le=0.5)  # of the height or width, per side


class PseSpec(Section):
    """Flash / PSE screening (ITU-R BT.1702, Ofcom): a screener, not a certified Harding test.

    Off unless enabled: the branch looks at every frame. Broadcast profiles turn it on.
    """

    enabled: bool = False
    peak_cd_m2: float = Field(default=200.0, gt=0)  # display model: BT.1886, this peak white
    min_change_cd_m2: float = Field(default=20.0, gt=0)  # a transition changes at least this
    max_dark_cd_m2: float = Field(default=160.0, gt=0)  # …and its darker side is below this
    max_flashes_per_s: int = Field(default=3, ge=0)  # more in any 1 s window fails
    max_area: float = Field(default=0.25, gt=0, lt=1)  # flashing over more of the screen counts
    red_rule: bool = True  # saturated-red transitions (WCAG 2.x measure)


class InterlaceSpec(Section):
    min_s: float = Field(default=1.0, ge=0)


class DeliverySpec(Section):
    """The delivery's conventions: ``file_name`` is a pattern with named parts (syntax:
    kickflow.profiles.file_names); None = no convention (the check is skipped)."""

    file_name: str | None = None

    @field_validator("file_name")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        from kickflow.profiles.file_names import compile_pattern

        if value is not None:
            compile_pattern(value)  # PatternInvalid is a ValueError: the loader names the key
        return value


class DetectSpec(Section):
    """Parameters the engine passes to FFmpeg's detectors."""

    black_pixel_threshold: float = Field(default=0.10, ge=0, le=1)  # blackdetect pix_th
    black_picture_threshold: float = Field(default=0.98, ge=0, le=1)  # blackdetect pic_th
    black_min_s: float = Field(default=0.5, gt=0)  # blackdetect d
    freeze_noise_db: float = Field(default=-60.0, le=0)  # freezedetect n
    freeze_min_s: float = Field(default=2.0, gt=0)  # freezedetect d
    silence_threshold_db: float = Field(default=-60.0, le=0)  # a sample within ± this is silent
    silence_min_s: float = Field(default=1.0, gt=0)  # …for at least this long
    clip_peak_dbfs: float = Field(default=-0.1, le=0)  # window peak that counts as clipped


class Profile(Section):
    """A delivery spec: expectations, thresholds and the severity of each check."""

    name: str
    description: str = ""
    loudness: LoudnessSpec
    container: ContainerSpec = ContainerSpec()
    video: VideoSpec = VideoSpec()
    audio: AudioSpec = AudioSpec()
    black: SegmentSpec = SegmentSpec()
    freeze: SegmentSpec = SegmentSpec()
    silence: SegmentSpec = SegmentSpec()
    levels: LevelsSpec = LevelsSpec()
    clipping: ClippingSpec = ClippingSpec()
    channels: ChannelsSpec = ChannelsSpec()
    phase: PhaseSpec = PhaseSpec()
    dc_offset: DcOffsetSpec = DcOffsetSpec()
    letterbox: LetterboxSpec = LetterboxSpec()
    interlace: InterlaceSpec = InterlaceSpec()
    pse: PseSpec = PseSpec()
    detect: DetectSpec = DetectSpec()
    delivery: DeliverySpec = DeliverySpec()
    subtitles: SubtitleSpec = SubtitleSpec()
    speech: SpeechSpec = SpeechSpec()
    music_bed: MusicBedSpec = MusicBedSpec()
    severity: dict[str, Severity] = Field(default_factory=dict)

    @field_validator("severity")
    @classmethod
    def _known_check_ids(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        unknown = sorted(set(value) - set(CHECK_IDS))
        if unknown:
            raise ValueError(f"has an unknown check id {unknown[0]!r}")
        return value

    @model_validator(mode="after")
    def _detectors_see_what_counts(self) -> Profile:
        # A run shorter than the detector's minimum is never reported, so it could never count.
        pairs = [
            ("black", self.black.min_s, self.detect.black_min_s),
            ("freeze", self.freeze.min_s, self.detect.freeze_min_s),
            ("silence", self.silence.min_s, self.detect.silence_min_s),
        ]
        for what, counts, detected in pairs:
            if counts < detected:
                raise ValueError(
                    f"{what}.min_s ({counts:g}) is shorter than detect.{what}_min_s "
                    f"({detected:g}): shorter runs are never detected"
                )
        return self

    def severity_of(self, check_id: str) -> Severity:
        """The severity of findings of ``check_id``; ``off`` disables the check."""
        return self.severity.get(check_id, DEFAULT_SEVERITY[check_id])
