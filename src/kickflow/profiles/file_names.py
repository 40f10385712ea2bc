"""File-name conventions: a pattern with named parts, set by a profile's ``[delivery] file_name``.

A pattern is literal text with ``{part}`` placeholders, matched against the whole file name
(no directory), case-sensitively::

    {name}          letters, digits and underscores, one or more (never ``-``, ``.`` or a space)
    {name:upper}    upper-case letters and digits, one or more
    {name:d}        digits, one or more: the part is an integer in the report
    {name:3d}       exactly 3 digits (any N from 1 to 9): an integer in the report
    {name:text}     any characters, at least one, as few as the rest of the pattern allows
    {{  }}          a literal brace

The old system's rule ``CODE-EP###-LANG-desc.ext`` is :data:`OLD_SYSTEM_RULE`; the built-in
``named-delivery`` profile turns it on. Pure code: the profile model validates a pattern when
the profile loads, and the ``delivery.file_name`` check parses names with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OLD_SYSTEM_RULE = "{code:upper}-EP{episode:3d}-{lang}-{desc:text}.{ext}"

_KINDS = {
    "": r"[A-Za-z0-9_]+",
    "upper": r"[A-Z0-9]+",
    "d": r"[0-9]+",
    "text": r".+?",
}
_FIXED_DIGITS = re.compile(r"[1-9]d")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PatternInvalid(ValueError):
    """A file-name pattern that cannot be used; the message says why."""


@dataclass(frozen=True)
class FileNamePattern:
    """A compiled convention: its source text, its regex and which parts are integers."""

    source: str
    regex: re.Pattern[str]
    parts: tuple[str, ...]
    integers: frozenset[str]

    def parse(self, file_name: str) -> dict[str, str | int] | None:
        """The named parts of ``file_name``, or None when it does not follow the convention."""
        found = self.regex.fullmatch(file_name)
        if found is None:
            return None
        return {
            name: int(value) if name in self.integers else value
            for name, value in found.groupdict().items()
        }


def compile_pattern(source: str) -> FileNamePattern:
    """The compiled pattern, or PatternInvalid with one sentence naming the problem."""
    pieces: list[str] = []
    parts: list[str] = []
    integers: set[str] = set()
    position = 0
    for token in _TOKEN.finditer(source):
        pieces.append(re.escape(source[position : token.start()]))
        position = token.end()
        text = token.group(0)
        if text in ("{{", "}}"):
            pieces.append(re.escape(text[0]))
            continue
        if token.group(1) is None:
            raise PatternInvalid(f"has an unmatched {text!r} (write {text * 2!r} for a brace)")
        name, regex, is_integer = _placeholder(token.group(1))
        if name in parts:
            raise PatternInvalid(f"names the part {name!r} twice")
        parts.append(name)
        if is_integer:
            integers.add(name)
        pieces.append(f"(?P<{name}>{regex})")
    pieces.append(re.escape(source[position:]))
    if not source:
        raise PatternInvalid("is empty")
    return FileNamePattern(source, re.compile("".join(pieces)), tuple(parts), frozenset(integers))


def _placeholder(inside: str) -> tuple[str, str, bool]:
    """``name[:kind]`` as (name, regex, parsed as an integer)."""
    name, _, kind = inside.partition(":")
    if not _NAME.fullmatch(name):
        raise PatternInvalid(
            f"has a part {{{inside}}} whose name is not a word (letters, digits, underscores)"
        )
    if _FIXED_DIGITS.fullmatch(kind):
        return name, f"[0-9]{{{kind[0]}}}", True
    if kind not in _KINDS:
        kinds = ", ".join(f"{{{name}:{k}}}" for k in ("upper", "d", "3d", "text"))
        raise PatternInvalid(f"has a part {{{inside}}} of unknown kind {kind!r} (use {kinds})")
    return name, _KINDS[kind], kind == "d"
