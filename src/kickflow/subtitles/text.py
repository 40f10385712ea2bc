"""Cue text: plain text from markup, the kinds of markup used, and characters as specs count
them (per line and per second), language-aware for Chinese, Japanese and Korean."""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from typing import get_args

from lingua import IsoCode639_3

from kickflow.profiles.subtitle_spec import MarkupKind
from kickflow.speech.language import language_of, normalise_language

# --- plain text -----------------------------------------------------------------------------

HTML_TAG = re.compile(r"<[^<>\n]*>")
ASS_BLOCK = re.compile(r"\{[^{}]*\}")
ASS_DRAWING = re.compile(r"\{[^{}]*\\p[1-9][^{}]*\}.*?(?:\{[^{}]*\\p0[^{}]*\}|$)", re.DOTALL)


def plain_lines(raw: str, fmt: str) -> str:
    """What a viewer reads: markup removed, one ``\\n`` between lines, outer blanks trimmed."""
    if fmt in ("ass", "ssa"):
        text = ASS_DRAWING.sub("", raw)
        text = ASS_BLOCK.sub("", text).replace("\\N", "\n").replace("\\n", "\n")
        text = text.replace("\\h", " ")
    else:
        text = ASS_BLOCK.sub("", HTML_TAG.sub("", raw))
        if fmt == "vtt":
            text = html.unescape(text)
    return tidy_lines(text)


def tidy_lines(text: str) -> str:
    """Each line trimmed; blank lines at the start and end dropped (they are not shown)."""
    lines = [line.strip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


# --- markup ---------------------------------------------------------------------------------

MARKUP_KINDS: tuple[str, ...] = get_args(MarkupKind)  # the profile's markup names
_HTML_KINDS = {"i": "italic", "b": "bold", "u": "underline", "s": "strike", "c": "class"}
_HTML_KINDS |= {"v": "voice", "ruby": "ruby", "rt": "ruby"}
_HTML_OPEN = re.compile(r"<\s*([a-zA-Z]+)([^<>\n]*)>")
_HTML_TIMESTAMP = re.compile(r"<\d[\d:.]*>")
_ASS_TAG = re.compile(r"\\([1-4]?[a-zA-Z]+)")
_ASS_KINDS = {
    "i": "italic",
    "b": "bold",
    "u": "underline",
    "s": "strike",
    "fs": "font",
    "fscx": "font",
    "fscy": "font",
    "fsp": "font",
    "c": "color",
    "alpha": "color",
    "an": "position",
    "a": "position",
    "pos": "position",
    "move": "position",
    "org": "position",
    "k": "karaoke",
    "K": "karaoke",
    "kf": "karaoke",
    "ko": "karaoke",
}
_TTML_STYLE = re.compile(
    r"(?<![\w-])(?:[\w.-]+:)?(fontStyle|fontWeight|textDecoration|color|backgroundColor|"
    r"fontFamily|fontSize|origin|extent|position|ruby)\s*=\s*[\"']([^\"']*)[\"']"
)


def markup_kinds(raw: str, fmt: str) -> frozenset[str]:
    """The kinds of markup (MARKUP_KINDS) a cue's raw text uses, whatever the format."""
    if fmt == "ttml":
        return frozenset(k for name, v in _TTML_STYLE.findall(raw) if (k := _ttml_kind(name, v)))
    kinds = {
        _ass_kind(name) for block in ASS_BLOCK.findall(raw) for name in _ASS_TAG.findall(block)
    }
    if fmt not in ("ass", "ssa"):
        kinds |= {_html_kind(tag, attrs) for tag, attrs in _HTML_OPEN.findall(raw)}
        if _HTML_TIMESTAMP.search(raw):
            kinds.add("karaoke")
    return frozenset(kinds)


def _html_kind(tag: str, attrs: str) -> str:
    tag = tag.lower()
    if tag == "font":
        return "color" if "color" in attrs.lower() else "font"
    return _HTML_KINDS.get(tag, "other")


def _ass_kind(name: str) -> str:
    if name[0].isdigit():  # \1c … \4c colours, \1a … \4a alphas
        return "color"
    if name.startswith("fn"):  # \fnArial: the font name follows without a separator
        return "font"
    return _ASS_KINDS.get(name, "other")


def _ttml_kind(name: str, value: str) -> str | None:
    value = value.strip()
    if name == "fontStyle":
        return "italic" if value in ("italic", "oblique") else None
    if name == "fontWeight":
        return "bold" if value == "bold" else None
    if name == "textDecoration":
        return "underline" if "underline" in value else "strike" if "lineThrough" in value else None
    if name in ("color", "backgroundColor"):
        return "color"
    if name in ("fontFamily", "fontSize"):
        return "font"
    return "ruby" if name == "ruby" else "position"


# --- counting characters ----------------------------------------------------------------------

CJK_LANGUAGES = frozenset({"jpn", "zho", "kor"})
_ZERO_WIDTH = frozenset({"Mn", "Me", "Cf"})


@functools.lru_cache(maxsize=8192)
def char_width(ch: str, cjk: bool) -> float:
    """How much one character counts. Combining marks and format characters count 0 (a Thai
    tone mark, a zero-width joiner). In Chinese, Japanese and Korean text a full-width
    character counts 1 and a half-width one (Latin letters, digits, ASCII spaces and
    punctuation, half-width kana) 0.5, as the Netflix language guides count; elsewhere every
    character counts 1, spaces and punctuation included."""
    if unicodedata.category(ch) in _ZERO_WIDTH:
        return 0.0
    if not cjk:
        return 1.0
    return 0.5 if unicodedata.east_asian_width(ch) in ("Na", "H") else 1.0


def line_width(line: str, cjk: bool) -> float:
    if line.isascii():  # most lines: every character is one (half in CJK text)
        return len(line) * (0.5 if cjk else 1.0)
    return sum(char_width(ch, cjk) for ch in line)


def text_width(text: str, cjk: bool) -> float:
    """Characters of a whole cue, for reading speed: line breaks do not count."""
    return sum(line_width(line, cjk) for line in text.split("\n"))


# --- languages ------------------------------------------------------------------------------


def language_key(tag: str | None) -> str | None:
    """A language tag's language as ISO 639-3 (``fr-CA`` → ``fra``, ``ger`` → ``deu``), so
    rules and requirements match however a file writes it; None for no or an unknown tag."""
    return normalise_language(tag)


# Dotted name parts that describe the file, not its language ("EP01.en.sdh.srt"). ``hi``
# means hearing-impaired only after a language ("EP01.en.hi.srt"); alone it is Hindi.
_NOT_LANGUAGES = frozenset({"sdh", "cc", "forced", "default", "full", "sub", "subs"})
_NAME_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def language_from_name(name: str) -> str | None:
    """The language a file name states before its extension (``EP01.fr-CA.vtt`` → ``fr-CA``):
    the last dotted part that is a lower-case language tag; three-letter ones must be known
    codes, so ``the.boy.srt`` names no language."""
    found: str | None = None
    for part in name.split(".")[1:-1]:
        if part in _NOT_LANGUAGES or (part == "hi" and found):
            continue
        if _NAME_TAG.match(part) and _known_primary(part.split("-")[0]):
            found = part
    return found


def _known_primary(primary: str) -> bool:
    """Two letters pass (names rarely hold other two-letter words); three must be a code
    the language table or lingua knows."""
    if len(primary) == 2 or language_of(primary) is not None:
        return True
    try:
        IsoCode639_3.from_str(primary)
    except ValueError:
        return False
    return True


def script_language(text: str) -> str | None:
    """Japanese, Korean or Chinese (ISO 639-3) when most letters of ``text`` are in that script:
    the counting rules still apply to a file whose name and document give no language."""
    kana = hangul = han = letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        code = ord(ch)
        if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
            kana += 1
        elif 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
            hangul += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            han += 1
    if not letters or (kana + hangul + han) / letters < 0.3:
        return None
    if kana:
        return "jpn"
    return "kor" if hangul >= han else "zho"
