"""The ``[subtitles]`` rules in plain words, for the Profiles page (profiles/wording.py)."""

from __future__ import annotations

from collections.abc import Sequence

from kickflow.profiles.subtitle_spec import LanguageRule, SubtitleSpec

SECTION = "Subtitles"
FORMAT_WORDS = {"srt": "SRT", "vtt": "WebVTT", "ttml": "TTML", "ass": "ASS", "ssa": "SSA"}


def describe_subtitles(spec: SubtitleSpec) -> list[tuple[str, str]]:
    """``(section, sentence)`` pairs for every setting of ``[subtitles]``."""
    sentences = [
        _files(spec),
        _encoding(spec),
        f"A line holds at most {spec.max_chars_per_line} characters (spaces and punctuation "
        f"count) and a cue at most {_count(spec.max_lines, 'line')}.",
        f"Reading speed is at most {spec.max_cps:g} characters per second (line breaks do not "
        "count).",
        _language_rules(spec.language_rules),
        f"A cue lasts from {spec.min_duration_s:g} s to {spec.max_duration_s:g} s.",
        _gaps(spec),
        _shot_changes(spec),
        _markup(spec),
        "Overlapping cues, cues outside the programme and cues without text are reported.",
    ]
    return [(SECTION, sentence) for sentence in sentences]


def _count(value: int, noun: str) -> str:
    return f"{value} {noun}" if value == 1 else f"{value} {noun}s"


def _either(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _files(spec: SubtitleSpec) -> str:
    needed = "At least one subtitle file is required" if spec.required else "Subtitles are optional"
    languages = f"; one in each of {', '.join(spec.languages)}" if spec.languages else ""
    formats = [FORMAT_WORDS.get(f, f) for f in spec.formats]
    accepted = f"; accepted formats: {_either(formats)}" if formats else "; any format read"
    return f"{needed}{languages}{accepted}."


def _encoding(spec: SubtitleSpec) -> str:
    bom = "accepted" if spec.allow_bom else "refused"
    names = [e.upper() for e in spec.encodings] or ["any encoding"]
    return f"Subtitle files are encoded as {_either(names)}; a byte-order mark is {bom}."


def _language_rules(rules: Sequence[LanguageRule]) -> str:
    if not rules:
        return "Every language is held to the same line length and reading speed."
    parts = []
    for rule in rules:
        limits = [
            f"{rule.max_chars_per_line} characters per line" if rule.max_chars_per_line else "",
            f"{rule.max_cps:g} characters per second" if rule.max_cps else "",
        ]
        parts.append(f"{rule.language} {' and '.join(p for p in limits if p) or 'as above'}")
    return (
        f"Language rules: {'; '.join(parts)}; in Chinese, Japanese and Korean a half-width "
        "character counts 0.5."
    )


def _gaps(spec: SubtitleSpec) -> str:
    least = f"Cues are at least {_count(spec.min_gap_frames, 'frame')} apart"
    if not spec.chain_below_frames:
        return f"{least}."
    return f"{least}; gaps under {spec.chain_below_frames} frames are closed to that minimum."


def _shot_changes(spec: SubtitleSpec) -> str:
    if not spec.shot_change_frames:
        return "Cue times are not checked against shot changes."
    return (
        f"A cue that starts or ends within {_count(spec.shot_change_frames, 'frame')} of a "
        "shot change, but not on it (or, for out-times, the minimum gap before it), is reported."
    )


def _markup(spec: SubtitleSpec) -> str:
    if not spec.forbidden_markup:
        return "Any markup (italics, colours, positions …) is accepted."
    return f"Forbidden markup: {', '.join(spec.forbidden_markup)}."
