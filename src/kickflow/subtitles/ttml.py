"""TTML and IMSC documents, read with expat as a stream of elements, never expanding entities.

pysubs2's TTML reader is not used: it hands the file to ``xml.etree`` (which expands the
entities of a DOCTYPE: an "XML bomb" of a few kilobytes grows to gigabytes) and reads
neither frame (``00:00:01:12``, ``12f``) nor tick (``900000t``) times, which Netflix-style
TTML uses throughout. Here a DOCTYPE or entity declaration refuses the file, nesting is
bounded, and every ``<p>`` in the body becomes a cue with its source line.

Timing follows TTML1 for ``par`` containers (the default and what subtitles use): an
element's ``begin`` and ``end`` count from its parent's begin, ``dur`` from its own;
``ttp:frameRate``, ``frameRateMultiplier``, ``subFrameRate`` and ``tickRate`` on the root
scale frame and tick times. Styles referenced by id (``style="s1"``) are not resolved: only
styling written on the cue counts as its markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.parsers import expat

from kickflow.media.model import Cue
from kickflow.subtitles.common import (
    MAX_CUES,
    MAX_XML_DEPTH,
    Parsed,
    Problems,
    Unreadable,
    snippet,
    too_many_cues,
)
from kickflow.subtitles.text import tidy_lines

TT_NAMESPACES = frozenset(
    {
        "http://www.w3.org/ns/ttml",
        "http://www.w3.org/2006/10/ttaf1",
        "http://www.w3.org/2006/04/ttaf1",
    }
)
XML_LANG = "http://www.w3.org/XML/1998/namespace lang"
CLOCK = re.compile(r"^(\d{2,}):(\d{2}):(\d{2}(?:\.\d+)?)(?::(\d{2,})(?:\.(\d+))?)?$")
OFFSET = re.compile(r"^(\d+(?:\.\d+)?)(h|ms|m|s|f|t)$")
BREAK = "\x00"  # stands for <br/> until white space is collapsed (XML text has no NUL)
DECLARED = (
    "is refused: its XML declares a DOCTYPE or entities, which TTML does not use "
    "(entity expansion can exhaust memory)"
)


@dataclass(frozen=True)
class Rates:
    """The document's time parameters (TTML1 §6.2), as its root element gives them."""

    frame_rate: float = 30.0
    sub_frame_rate: float = 1.0
    tick_rate: float = 1.0

    @classmethod
    def of(cls, attrs: dict[str, str]) -> Rates:
        """The root's parameters; Unreadable when one is not a positive number."""
        frames = _parameter(attrs, "frameRate")
        try:
            multiplier = [
                float(v) for v in (_parameter(attrs, "frameRateMultiplier") or "1 1").split()
            ]
            sub = float(_parameter(attrs, "subFrameRate") or 1)
            rate = float(frames or 30) * multiplier[0] / multiplier[-1]
            ticks = _parameter(attrs, "tickRate")
            tick_rate = float(ticks) if ticks else (rate * sub if frames else 1.0)
        except (ValueError, IndexError, ZeroDivisionError):
            raise Unreadable("has a ttp: time parameter that is not a number") from None
        if min(rate, sub, tick_rate) <= 0:
            raise Unreadable("has a ttp: time parameter that is not a positive number")
        return cls(rate, sub, tick_rate)

    def seconds(self, expression: str) -> float | None:
        """A time expression in seconds; None when it is not one."""
        value = expression.strip()
        clock = CLOCK.match(value)
        if clock:
            hours, minutes, secs, frames, subframes = clock.groups()
            total = int(hours) * 3600 + int(minutes) * 60 + float(secs)
            total += int(frames or 0) / self.frame_rate
            return total + int(subframes or 0) / (self.frame_rate * self.sub_frame_rate)
        offset = OFFSET.match(value)
        if offset is None:
            return None
        count, unit = float(offset.group(1)), offset.group(2)
        per = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
        if unit in per:
            return count * per[unit]
        return count / (self.frame_rate if unit == "f" else self.tick_rate)


def _ends(attrs: dict[str, str]) -> bool:
    return "end" in attrs or "dur" in attrs


def _parameter(attrs: dict[str, str], name: str) -> str | None:
    return next((v for k, v in attrs.items() if k.endswith(f"#parameter {name}")), None)


@dataclass
class Frame:
    """One open element: its local name and absolute timing (seconds; end None = open)."""

    name: str
    begin: float
    end: float | None
    valid: bool = True  # its times could be read


@dataclass
class OpenCue:
    line: int
    byte_start: int
    frame: Frame
    parts: list[str] = field(default_factory=list)
    ignored: int = 0  # depth inside elements whose text is not shown (metadata …)


class Reader:
    """Collects cues from expat's events; one instance per document."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=" ")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._refuse
        self.parser.EntityDeclHandler = self._refuse
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text
        self.stack: list[Frame] = []
        self.rates = Rates()
        self.language: str | None = None
        self.cue: OpenCue | None = None
        self.cues: list[Cue] = []
        self.problems = Problems()
        self.seq_reported = False
        self.saw_body = False

    def read(self) -> Parsed:
        try:
            self.parser.Parse(self.data, True)
        except expat.ExpatError as exc:
            reason = expat.ErrorString(exc.code)
            raise Unreadable(f"is not well-formed XML (line {exc.lineno}: {reason})") from None
        if not self.saw_body:
            raise Unreadable("is a TTML document without a <body>, so no subtitles")
        return Parsed(tuple(self.cues), self.problems.result(), self.language)

    def _refuse(self, *_args: object) -> None:
        raise Unreadable(DECLARED)

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        namespace, _, name = tag.rpartition(" ")
        if len(self.stack) >= MAX_XML_DEPTH:
            raise Unreadable(f"nests XML elements more than {MAX_XML_DEPTH} deep")
        if not self.stack:
            self._root(namespace, name, attrs)
        frame = self._frame(name if namespace in TT_NAMESPACES else "", attrs)
        self.stack.append(frame)
        if self.cue is not None:
            self._inside_cue(frame)
        elif frame.name == "p" and any(f.name == "body" for f in self.stack):
            self._open_cue(frame)
        self.saw_body = self.saw_body or frame.name == "body"

    def _root(self, namespace: str, name: str, attrs: dict[str, str]) -> None:
        if name != "tt" or namespace not in TT_NAMESPACES:
            raise Unreadable(f"is an XML document but not TTML (its root element is <{name}>)")
        self.rates = Rates.of(attrs)
        self.language = attrs.get(XML_LANG) or None

    def _frame(self, name: str, attrs: dict[str, str]) -> Frame:
        parent = self.stack[-1] if self.stack else Frame("", 0.0, None)
        if attrs.get("timeContainer") == "seq" and not self.seq_reported:
            self.seq_reported = True
            self._problem("a seq time container is read as par (times from the parent's begin)")
        begin = self._time(attrs, "begin", parent.begin, 0.0)
        end = self._time(attrs, "end", parent.begin, None)
        duration = self._time(attrs, "dur", 0.0, None)
        if end is None and duration is not None and begin is not None:
            end = begin + duration
        valid = parent.valid and begin is not None and (end is not None or not _ends(attrs))
        if end is None and not _ends(attrs):
            end = parent.end
        return Frame(name, begin if begin is not None else parent.begin, end, valid)

    def _time(
        self, attrs: dict[str, str], key: str, base: float, default: float | None
    ) -> float | None:
        written = attrs.get(key)
        if written is None:
            return None if default is None else base + default
        value = self.rates.seconds(written)
        if value is None:
            self._problem(f"the {key} time “{snippet(written)}” cannot be read")
            return None
        return base + value

    def _open_cue(self, frame: Frame) -> None:
        if len(self.cues) >= MAX_CUES:
            raise too_many_cues()
        line, start = self.parser.CurrentLineNumber, self.parser.CurrentByteIndex
        self.cue = OpenCue(line, start, frame)

    def _inside_cue(self, frame: Frame) -> None:
        assert self.cue is not None
        if self.cue.ignored or frame.name not in ("span", "br"):
            self.cue.ignored += 1
        elif frame.name == "br":
            self.cue.parts.append(BREAK)

    def _text(self, data: str) -> None:
        if self.cue is not None and not self.cue.ignored:
            self.cue.parts.append(data)

    def _end(self, _tag: str) -> None:
        frame = self.stack.pop()
        cue = self.cue
        if cue is None:
            return
        if frame is not cue.frame:
            cue.ignored -= cue.ignored > 0
            return
        self.cue = None
        self._close_cue(cue)

    def _close_cue(self, cue: OpenCue) -> None:
        frame = cue.frame
        if not frame.valid:
            self.problems.add(cue.line, "the cue's times cannot be read; the cue is left out")
            return
        if frame.end is None:
            self.problems.add(cue.line, "the cue has no end (no end or dur, none inherited)")
            return
        close = self.data.find(b">", self.parser.CurrentByteIndex) + 1
        raw = self.data[cue.byte_start : close].decode("utf-8", "replace")
        text = "\n".join(" ".join(part.split()) for part in "".join(cue.parts).split(BREAK))
        number = len(self.cues) + 1
        begin, end = round(frame.begin, 6), round(frame.end, 6)  # no float noise in reports
        self.cues.append(Cue(number, begin, end, tidy_lines(text), raw, cue.line))

    def _problem(self, message: str) -> None:
        self.problems.add(self.parser.CurrentLineNumber, message)


def read_ttml(text: str) -> Parsed:
    return Reader(text.lstrip("\ufeff").encode("utf-8")).read()
