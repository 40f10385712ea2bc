"""Subtitle files written in code: the same cues as SRT, WebVTT, TTML or ASS text.

A cue's ``markup`` wraps its first line in that format's italic or colour markup, so the
markup check can be tested in every format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Markup = Literal["italic", "color"] | None


@dataclass(frozen=True)
class CueSpec:
    start: float
    end: float
    lines: tuple[str, ...]
    markup: Markup = None


def cue(start: float, end: float, *lines: str, markup: Markup = None) -> CueSpec:
    return CueSpec(start, end, lines, markup)


def _clock(t: float, sep: str) -> str:
    ms = round(t * 1000)
    return (
        f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"
    )


def _marked(lines: tuple[str, ...], markup: Markup, tags: dict[str, tuple[str, str]]) -> list[str]:
    if not lines or markup is None:
        return list(lines)
    before, after = tags[markup]
    return [f"{before}{lines[0]}{after}", *lines[1:]]


def srt(cues: Sequence[CueSpec]) -> str:
    tags = {"italic": ("<i>", "</i>"), "color": ('<font color="#ffff00">', "</font>")}
    blocks = [
        "\n".join(
            [
                str(n),
                f"{_clock(c.start, ',')} --> {_clock(c.end, ',')}",
                *_marked(c.lines, c.markup, tags),
            ]
        )
        for n, c in enumerate(cues, 1)
    ]
    return "\n\n".join(blocks) + "\n"


def vtt(cues: Sequence[CueSpec]) -> str:
    tags = {"italic": ("<i>", "</i>"), "color": ("<c.yellow>", "</c>")}
    blocks = [
        "\n".join(
            [f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}", *_marked(c.lines, c.markup, tags)]
        )
        for c in cues
    ]
    return "WEBVTT\n\nNOTE written by the tests\n\n" + "\n\n".join(blocks) + "\n"


def ttml(cues: Sequence[CueSpec], language: str = "en") -> str:
    tags = {
        "italic": ('<span tts:fontStyle="italic">', "</span>"),
        "color": ('<span tts:color="yellow">', "</span>"),
    }
    paragraphs = [
        f'      <p begin="{_clock(c.start, ".")}" end="{_clock(c.end, ".")}">'
        + "<br/>".join(_marked(c.lines, c.markup, tags))
        + "</p>"
        for c in cues
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling"\n'
        f'    xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xml:lang="{language}">\n'
        "  <head/>\n  <body>\n    <div>\n"
        + "\n".join(paragraphs)
        + "\n    </div>\n  </body>\n</tt>\n"
    )


def ass(cues: Sequence[CueSpec]) -> str:
    tags = {"italic": ("{\\i1}", "{\\i0}"), "color": ("{\\c&H00FFFF&}", "{\\c}")}

    def time(t: float) -> str:
        cs = round(t * 100)
        return f"{cs // 360_000}:{cs // 6000 % 60:02d}:{cs // 100 % 60:02d}.{cs % 100:02d}"

    events = [
        f"Dialogue: 0,{time(c.start)},{time(c.end)},Default,,0,0,0,,"
        + "\\N".join(_marked(c.lines, c.markup, tags))
        for c in cues
    ]
    return (
        "[Script Info]\nScriptType: v4.00+\nPlayResX: 1920\nPlayResY: 1080\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: Default,Arial,48,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,"
        "0,0,1,2,2,2,10,10,10,1\n\n"
        "[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        + "\n".join(events)
        + "\n"
    )


WRITERS: dict[str, tuple[str, Callable[[Sequence[CueSpec]], str]]] = {
    "srt": (".srt", srt),
    "vtt": (".vtt", vtt),
    "ttml": (".xml", ttml),
    "ass": (".ass", ass),
}
