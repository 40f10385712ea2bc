"""The delivery-spec profile: what a file must look like, and how loudly each check complains.

Every section is a frozen pydantic model that forbids unknown keys, so a typo in a TOML file is
an error naming the key instead of a silently ignored setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    "audio.missing",
    "audio.format",
    "audio.loudness",
    "audio.true_peak",
    "audio.silence",
    "audio.clipping",
    "audio.channels",
    "audio.phase",
)

DEFAULT_SEVERITY: dict[str, Severity] = {
    **dict.fromkeys(CHECK_IDS, "error"),
    "media.duration_mismatch": "warning",
    "video.interlace": "warning",
    "video.letterbox": "info",
    "audio.phase": "warning",
}


class Section(BaseModel):
    """Base of every profile table: immutable, strict types, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


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


class AudioSpec(Section):
    required: bool = True
    codecs: tuple[str, ...] = ()
    sample_rates: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()


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


class PhaseSpec(Section):
    min_mean_correlation: float = Field(default=-0.2, ge=-1, le=1)
    out_of_phase_min_s: float = Field(default=1.0, ge=0)
    flag_mono_as_stereo: bool = True


class LetterboxSpec(Section):
    min_bar_share: float = Field(default=0.02, ge=0, le=0.5)  # of the height or width, per side


class InterlaceSpec(Section):
    min_s: float = Field(default=1.0, ge=0)


class DetectSpec(Section):
    """Parameters the engine passes to FFmpeg's detectors."""

    black_pixel_threshold: float = Field(default=0.10, ge=0, le=1)  # blackdetect pix_th
    black_picture_threshold: float = Field(default=0.98, ge=0, le=1)  # blackdetect pic_th
    black_min_s: float = Field(default=0.5, gt=0)  # blackdetect d
    freeze_noise_db: float = Field(default=-60.0, le=0)  # freezedetect n
    freeze_min_s: float = Field(default=2.0, gt=0)  # freezedetect d
    silence_threshold_db: float = Field(default=-60.0, le=0)  # silencedetect n
    silence_min_s: float = Field(default=1.0, gt=0)  # silencedetect d
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
    letterbox: LetterboxSpec = LetterboxSpec()
    interlace: InterlaceSpec = InterlaceSpec()
    detect: DetectSpec = DetectSpec()
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
