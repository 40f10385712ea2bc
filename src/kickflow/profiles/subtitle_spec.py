"""``[subtitles]``: the timed-text rules a delivery's subtitle files are held to.

The defaults are the Netflix Timed Text Style Guide's general requirements (42 characters per
line, 2 lines, 20 characters per second for adult English, 5/6 s to 7 s, 2-frame gaps) with
the language guides' line lengths and reading speeds for Japanese, Korean and Chinese; a
profile tightens or loosens them (``timed-text.toml`` is the Netflix-style one).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from kickflow.profiles.sections import Section

SubtitleFormat = Literal["srt", "vtt", "ttml", "ass", "ssa"]
MarkupKind = Literal[
    "italic",
    "bold",
    "underline",
    "strike",
    "font",
    "color",
    "position",
    "class",
    "voice",
    "ruby",
    "karaoke",
    "other",
]
_Severity = Literal["error", "warning", "info", "off"]

# Default severities of the timed-text checks (profiles/model.py merges them): what makes a
# file unusable fails it; style rules a subtitler may break on purpose ask for review.
SUBTITLE_SEVERITY: dict[str, _Severity] = {
    "subtitle.reading_speed": "warning",
    "subtitle.duration": "warning",
    "subtitle.gap": "warning",
    "subtitle.shot_change": "warning",
    "subtitle.markup": "warning",
}


class LanguageRule(Section):
    """Line length and reading speed for one language, where it differs from the general."""

    language: str = Field(pattern=r"^[a-z]{2,3}$")  # primary tag, ISO 639-1 or -3: ja, zho
    max_chars_per_line: int | None = Field(default=None, ge=1)
    max_cps: float | None = Field(default=None, gt=0)


# Netflix's Japanese (13 full-width characters, 4 per second), Korean (16, 12) and Chinese
# (16, 9) guides; half-width characters count 0.5 in these languages (subtitles/text.py).
DEFAULT_LANGUAGE_RULES = (
    LanguageRule(language="ja", max_chars_per_line=13, max_cps=4.0),
    LanguageRule(language="ko", max_chars_per_line=16, max_cps=12.0),
    LanguageRule(language="zh", max_chars_per_line=16, max_cps=9.0),
)


class SubtitleSpec(Section):
    """Timed-text thresholds (checks/subtitles.py). Frame counts are at the video's frame
    rate (25 fps for audio-only programmes)."""

    required: bool = False  # at least one subtitle file (or text stream) must come
    languages: tuple[str, ...] = ()  # each of these needs a subtitle file in it
    formats: tuple[SubtitleFormat, ...] = ()  # accepted sidecar formats; empty = any
    encodings: tuple[str, ...] = ("utf-8",)  # accepted text encodings
    allow_bom: bool = True  # a UTF-8 byte-order mark at the start is accepted
    max_chars_per_line: int = Field(default=42, ge=1)
    max_lines: int = Field(default=2, ge=1)
    max_cps: float = Field(default=20.0, gt=0)  # characters per second, spaces included
    min_duration_s: float = Field(default=0.833, ge=0)  # 5/6 s
    max_duration_s: float = Field(default=7.0, gt=0)
    min_gap_frames: int = Field(default=2, ge=0)
    # Gaps shorter than this (and longer than the minimum) should be closed to the minimum
    # ("chained"); 0 = not checked.
    chain_below_frames: int = Field(default=0, ge=0)
    # Cue in- and out-times this close to a shot change (but not on it, or for out-times
    # min_gap_frames before it) are reported; 0 = not checked (and no shot detection runs).
    shot_change_frames: int = Field(default=0, ge=0)
    forbidden_markup: tuple[MarkupKind, ...] = ()
    language_rules: tuple[LanguageRule, ...] = DEFAULT_LANGUAGE_RULES

    @field_validator("languages")
    @classmethod
    def _language_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from kickflow.subtitles.text import language_key

        for tag in value:
            if language_key(tag) is None:
                raise ValueError(f"has {tag!r}, which is not a language tag (e.g. en, fr-CA)")
        return value

    @field_validator("encodings")
    @classmethod
    def _known_encodings(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import codecs

        for name in value:
            try:
                codecs.lookup(name)
            except LookupError:
                raise ValueError(f"has {name!r}, which is not an encoding name") from None
        return value

    @field_validator("language_rules")
    @classmethod
    def _one_rule_per_language(cls, value: tuple[LanguageRule, ...]) -> tuple[LanguageRule, ...]:
        languages = [rule.language for rule in value]
        repeated = sorted({lang for lang in languages if languages.count(lang) > 1})
        if repeated:
            raise ValueError(f"has more than one rule for {repeated[0]!r}")
        return value

    @model_validator(mode="after")
    def _durations_ordered(self) -> SubtitleSpec:
        if self.min_duration_s > self.max_duration_s:
            raise ValueError(
                f"min_duration_s ({self.min_duration_s:g}) is longer than max_duration_s "
                f"({self.max_duration_s:g})"
            )
        return self

    @property
    def wants_shot_changes(self) -> bool:
        """Whether the analysis should detect shot changes for the subtitle checks."""
        return self.shot_change_frames > 0
