"""ASS and SSA scripts, read by pysubs2 after their event lines are checked here.

pysubs2 stops at the first event it cannot read, with a message that gives no line. So the
``[Events]`` section is checked first: each ``Dialogue:`` line must have the fields its
``Format:`` line names and readable start and end times; a line that does not is reported
at its line number and left out, and pysubs2 reads the rest. Comment events are not shown
on screen, so they are not cues; cues are numbered in file order of the Dialogue lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pysubs2
from pysubs2.exceptions import Pysubs2Error

from kickflow.media.model import Cue
from kickflow.subtitles.common import MAX_CUES, Parsed, Problems, Unreadable, snippet, too_many_cues
from kickflow.subtitles.text import plain_lines

SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
EVENT = re.compile(r"^(Dialogue|Comment)\s*:\s*(.*)$", re.IGNORECASE)
TIME = re.compile(r"^\d+:\d{1,2}:\d{1,2}(?:[.:]\d{1,3})?$")
DEFAULT_FIELDS: tuple[str, ...] = ("layer", "start", "end", "style", "name", "marginl")
DEFAULT_FIELDS += ("marginr", "marginv", "effect", "text")


@dataclass(frozen=True)
class EventLine:
    line: int
    dialogue: bool  # False: a Comment event (kept for pysubs2, not a cue)


def read_substation(text: str, fmt: str) -> Parsed:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    problems = Problems()
    kept, events = _checked_events(lines, problems)
    if sum(1 for e in events if e.dialogue) > MAX_CUES:
        raise too_many_cues()
    try:
        script = pysubs2.SSAFile.from_string("\n".join(kept), format_=fmt)
    except (Pysubs2Error, ValueError, KeyError, IndexError) as exc:
        raise Unreadable(f"cannot be read as {fmt.upper()}: {snippet(str(exc), 80)}") from exc
    if len(script.events) != len(events):  # pysubs2 and the check disagree: no line numbers
        events = [EventLine(0, not e.is_comment) for e in script.events]
    cues: list[Cue] = []
    for event, where in zip(script.events, events, strict=True):
        if where.dialogue:
            raw = event.text
            cues.append(
                Cue(
                    len(cues) + 1,
                    event.start / 1000,
                    event.end / 1000,
                    plain_lines(raw, fmt),
                    raw,
                    where.line or None,
                )
            )
    language = script.info.get("Language") or None
    return Parsed(tuple(cues), problems.result(), language)


def _checked_events(lines: list[str], problems: Problems) -> tuple[list[str], list[EventLine]]:
    """The script with unreadable event lines blanked, and where each kept event is."""
    kept, events = list(lines), []
    section, fields, seen_events = "", DEFAULT_FIELDS, False
    for number, line in enumerate(lines, 1):
        header = SECTION.match(line)
        if header:
            section = header.group(1).strip().lower()
            seen_events = seen_events or section == "events"
            continue
        if section != "events":
            continue
        if line.lower().startswith("format:"):
            fields = tuple(f.strip().lower() for f in line.split(":", 1)[1].split(","))
            continue
        event = EVENT.match(line)
        if event is None:
            continue
        problem = _event_problem(event.group(2), fields)
        if problem:
            problems.add(number, f"{problem}; the event is left out")
            kept[number - 1] = ""
        else:
            events.append(EventLine(number, event.group(1).lower() == "dialogue"))
    if not seen_events:
        raise Unreadable("has no [Events] section, so no subtitles")
    return kept, events


def _event_problem(values: str, fields: tuple[str, ...]) -> str | None:
    parts = values.split(",", len(fields) - 1)
    if len(parts) < len(fields):
        return f"the event has {len(parts)} of the {len(fields)} fields its Format line names"
    for name in ("start", "end"):
        if name in fields and not TIME.match(parts[fields.index(name)].strip()):
            return (
                f"the {name} time “{snippet(parts[fields.index(name)].strip())}” is not H:MM:SS.cc"
            )
    return None
