"""Which line-length and reading-speed limits apply to a subtitle file: its language's rule
from the profile, else the general ones. The language is the file's (name, stream tag or
document); a file that states none is judged by its script, so Japanese text is never
counted against a Latin-script limit."""

from __future__ import annotations

from dataclasses import dataclass

from kickflow.media.model import SubtitleFile
from kickflow.profiles.subtitle_spec import SubtitleSpec
from kickflow.subtitles.text import CJK_LANGUAGES, language_key, script_language

SAMPLE_CUES = 50  # enough text to tell the script


@dataclass(frozen=True)
class FileRules:
    max_chars_per_line: int
    max_cps: float
    cjk: bool  # count half-width characters as 0.5
    why: str = ""  # ", for ja" when a language rule applies (for messages)


def rules_for(spec: SubtitleSpec, f: SubtitleFile) -> FileRules:
    key = language_key(f.language)
    guessed = key is None
    if guessed:
        key = script_language(" ".join(cue.text for cue in f.cues[:SAMPLE_CUES]))
    rule = next((r for r in spec.language_rules if language_key(r.language) == key), None)
    cjk = key in CJK_LANGUAGES
    if rule is None:
        return FileRules(spec.max_chars_per_line, spec.max_cps, cjk)
    named = f", for {rule.language}" + (" (from its script)" if guessed else "")
    return FileRules(
        rule.max_chars_per_line or spec.max_chars_per_line,
        rule.max_cps or spec.max_cps,
        cjk,
        named,
    )
