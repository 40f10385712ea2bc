"""SRT and WebVTT: the block structure checked line by line, the timings read by pysubs2.

pysubs2 reads these formats leniently: any line with two timestamps starts a cue and every
other line joins the cue above it, so a WebVTT NOTE, a cue identifier or text after a stray
blank line silently becomes part of a neighbouring cue. Here the file is split into its
blank-line separated blocks first; each block is checked against the format's rules (SRT: a
cue number, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text; WebVTT: the header, optional identifier,
``[hh:]mm:ss.ttt --> [hh:]mm:ss.ttt`` with settings, a payload without ``-->``) and what does
not fit is reported at its line. Only the timing lines of real cues go to pysubs2, so its
reading of each timestamp is the one players use, and the cue text is exactly the block's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pysubs2
from pysubs2.formats.subrip import SubripFormat
from pysubs2.formats.webvtt import WebVTTFormat

from kickflow.media.model import Cue
from kickflow.subtitles.common import MAX_CUES, Parsed, Problems, snippet, too_many_cues
from kickflow.subtitles.text import plain_lines

SRT_TIMING = re.compile(
    r"^\d{2}:[0-5]\d:[0-5]\d,\d{3} --> \d{2}:[0-5]\d:[0-5]\d,\d{3}"
    r"(?: +X1:-?\d+ +X2:-?\d+ +Y1:-?\d+ +Y2:-?\d+)? *$"
)
VTT_TIME = r"(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}"
VTT_TIMING = re.compile(rf"^{VTT_TIME}[ \t]+-->[ \t]+{VTT_TIME}(?:[ \t]+\S.*)?$")
VTT_HEADER = re.compile(r"^WEBVTT(?:[ \t].*)?$")
VTT_SKIPPED = re.compile(r"^(NOTE|STYLE|REGION)(?:[ \t].*)?$")
WRITTEN = {
    "srt": "HH:MM:SS,mmm --> HH:MM:SS,mmm",
    "vtt": "[hh:]mm:ss.ttt --> [hh:]mm:ss.ttt",
}
EPSILON_S = 0.0005


@dataclass(frozen=True)
class Block:
    start: int  # 1-based line number of its first line
    lines: list[str]


@dataclass(frozen=True)
class Unit:
    """One cue as written: its first line, the timing line and the payload."""

    line: int
    timing_line: int
    timing: str
    payload: list[str]
    number: str | None  # SRT cue number or WebVTT identifier, as written


def read_srt(text: str) -> Parsed:
    return _read(text, "srt")


def read_vtt(text: str) -> Parsed:
    return _read(text, "vtt")


def _read(text: str, fmt: str) -> Parsed:
    if text.count("-->") > MAX_CUES:
        raise too_many_cues()
    problems = Problems()
    blocks = split_blocks(text)
    if fmt == "vtt":
        blocks = _vtt_cue_blocks(blocks, problems)
    units = [u for block in blocks for u in _units(block, fmt, problems)]
    if fmt == "srt":
        _check_numbers(units, problems)
    kept = [u for u in units if _timing_readable(u, fmt, problems)]
    cues = _cues(kept, fmt)
    _check_order(cues, problems)
    return Parsed(cues, problems.result())


def split_blocks(text: str) -> list[Block]:
    """The blank-line separated blocks, with the line each starts on."""
    blocks: list[Block] = []
    current: list[str] = []
    start = 1
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    for number, line in enumerate(lines, 1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append(Block(start, current))
            current = []
    if current:
        blocks.append(Block(start, current))
    return blocks


def _vtt_cue_blocks(blocks: list[Block], problems: Problems) -> list[Block]:
    """The blocks that are cues: the header, NOTE, STYLE and REGION blocks left out."""
    if not blocks or not VTT_HEADER.match(blocks[0].lines[0]):
        problems.add(blocks[0].start if blocks else 1, "a WebVTT file must start with WEBVTT")
    elif "-->" in "".join(blocks[0].lines):
        head = blocks[0]
        problems.add(head.start + 1, "a blank line must follow the WEBVTT header")
        blocks = [Block(head.start + 1, head.lines[1:]), *blocks[1:]]
    else:
        blocks = blocks[1:]
    cues, seen_cue = [], False
    for block in blocks:
        skipped = VTT_SKIPPED.match(block.lines[0])
        if skipped is None:
            cues.append(block)
            seen_cue = seen_cue or any("-->" in line for line in block.lines)
        elif skipped.group(1) != "NOTE" and seen_cue:
            problems.add(block.start, f"a {skipped.group(1)} block must come before the cues")
    return cues


def _units(block: Block, fmt: str, problems: Problems) -> list[Unit]:
    """The cues of one block: normally one; more when blank lines between cues are missing."""
    lines = block.lines
    rows = [k for k, line in enumerate(lines) if "-->" in line]
    if not rows:
        problems.add(
            block.start,
            f"text that belongs to no cue: “{snippet(lines[0])}” "
            "(a blank line inside a cue, or a missing timing line?)",
        )
        return []
    headers = [_first_header(block, rows[0], fmt, problems)]
    for k in range(1, len(rows)):
        headers.append(_inner_header(block, rows[k], rows[k - 1], fmt, problems))
    units = []
    for k, row in enumerate(rows):
        end = len(lines) if k + 1 == len(rows) else rows[k + 1] - (headers[k + 1] is not None)
        first = block.start + row - (headers[k] is not None)
        units.append(
            Unit(first, block.start + row, lines[row].strip(), lines[row + 1 : end], headers[k])
        )
    return units


def _first_header(block: Block, row: int, fmt: str, problems: Problems) -> str | None:
    """The cue number (SRT) or identifier (WebVTT) above a block's first timing line; lines
    above that are reported as belonging to no cue."""
    if row == 0:
        if fmt == "srt":
            problems.add(block.start, "the cue has no number line above its timing")
        return None
    if row > 1:
        problems.add(block.start, f"text that belongs to no cue: “{snippet(block.lines[0])}”")
    above = block.lines[row - 1].strip()
    if fmt == "srt" and not above.isdigit():
        problems.add(block.start + row - 1, f"expected the cue number, found “{snippet(above)}”")
        return None
    return above


def _inner_header(
    block: Block, row: int, previous: int, fmt: str, problems: Problems
) -> str | None:
    """A cue that follows another without a blank line: in SRT the line above its timing is
    its number when it is one; in WebVTT it stays the cue above's text."""
    above = block.lines[row - 1].strip()
    number = fmt == "srt" and row - 1 > previous and above.isdigit()
    problems.add(block.start + row - number, "no blank line before this cue")
    return above if number else None


def _check_numbers(units: list[Unit], problems: Problems) -> None:
    """SRT numbers its cues 1, 2, 3 …: a gap or repeat is how a lost or doubled cue shows."""
    expected = 1
    for unit in units:
        if unit.number is None:
            expected += 1
            continue
        found = int(unit.number)
        if found != expected:
            problems.add(unit.line, f"cue number {found} where {expected} was expected")
        expected = found + 1


def _timing_readable(unit: Unit, fmt: str, problems: Problems) -> bool:
    """True when pysubs2 can read the timing; a timing not written as the format requires is
    reported, and kept when it can still be read."""
    strict = SRT_TIMING if fmt == "srt" else VTT_TIMING
    if strict.match(unit.timing):
        return True
    pattern = SubripFormat.TIMESTAMP if fmt == "srt" else WebVTTFormat.TIMESTAMP
    readable = len(pattern.findall(unit.timing)) == 2
    outcome = "read as written" if readable else "the cue is left out"
    problems.add(
        unit.timing_line,
        f"the timing “{snippet(unit.timing)}” is not {WRITTEN[fmt]}; {outcome}",
    )
    return readable


def _cues(units: list[Unit], fmt: str) -> tuple[Cue, ...]:
    if not units:
        return ()
    timings = "\n\n".join(u.timing for u in units)
    # keep_html_tags: there is no text to convert, and its nine regex passes per cue add up.
    events = pysubs2.SSAFile.from_string(timings, format_=fmt, keep_html_tags=True)
    return tuple(
        Cue(
            number=n,
            start_s=event.start / 1000,
            end_s=event.end / 1000,
            text=plain_lines("\n".join(unit.payload), fmt),
            raw="\n".join(unit.payload),
            line=unit.line,
        )
        for n, (unit, event) in enumerate(zip(units, events.events, strict=True), 1)
    )


def _check_order(cues: tuple[Cue, ...], problems: Problems) -> None:
    """SRT and WebVTT list cues in time order; a cue earlier than the one above is misfiled."""
    latest = None
    for cue in cues:
        if latest is not None and cue.start_s < latest.start_s - EPSILON_S:
            problems.add(cue.line, f"cue {cue.number} starts before cue {latest.number} above it")
        if latest is None or cue.start_s >= latest.start_s:
            latest = cue
