"""Which timed-text format a file's text is, from its content first (a name can lie), and the
sentence for anything that is not subtitles: an HTML page, other XML, formats not read here."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from kickflow.subtitles.common import Unreadable

FORMATS: dict[str, str] = {
    "srt": "SRT",
    "vtt": "WebVTT",
    "ttml": "TTML",
    "ass": "ASS",
    "ssa": "SSA",
}
EXTENSIONS: dict[str, str] = {
    ".srt": "srt",
    ".vtt": "vtt",
    ".webvtt": "vtt",
    ".ttml": "ttml",
    ".dfxp": "ttml",
    ".xml": "ttml",
    ".imsc": "ttml",
    ".ass": "ass",
    ".ssa": "ssa",
}
# Known timed-text formats this product does not read: named, so the sentence helps.
UNSUPPORTED: dict[str, str] = {
    ".stl": "EBU STL",
    ".scc": "Scenarist SCC captions",
    ".cap": "Cheetah CAP captions",
    ".sub": "MicroDVD or VobSub",
    ".idx": "VobSub",
    ".sup": "PGS (Blu-ray bitmap) subtitles",
    ".smi": "SAMI",
    ".sami": "SAMI",
    ".sbv": "YouTube SBV",
    ".lrc": "LRC lyrics",
    ".mcc": "MacCaption MCC",
}
# FFmpeg codec names of text subtitle streams, for streams extracted from a container.
CODEC_FORMATS: dict[str, str] = {
    "subrip": "srt",
    "srt": "srt",
    "webvtt": "vtt",
    "vtt": "vtt",
    "ass": "ass",
    "ssa": "ssa",
    "ttml": "ttml",
}
ACCEPTED = "send SRT, WebVTT, TTML or ASS/SSA"
SRT_TIMING = re.compile(r"^\s*\d+:\d{1,2}:\d{1,2}[,.]\d{1,3}\s*-->", re.MULTILINE)
VTT_TIMING = re.compile(r"^\s*(?:\d+:)?\d{1,2}:\d{1,2}\.\d{1,3}\s*-->", re.MULTILINE)
TTML_ROOT = re.compile(r"<(?:[\w.-]+:)?tt[\s>/]")
TTML_NAMESPACES = (
    "http://www.w3.org/ns/ttml",
    "http://www.w3.org/2006/10/ttaf1",
    "http://www.w3.org/2006/04/ttaf1",
)
HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
DECLARATIONS = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def sniff_format(text: str, name: str) -> str:
    """``srt``/``vtt``/``ttml``/``ass``/``ssa`` for ``text`` (the head of the file is enough);
    Unreadable with the reason when it is none of them."""
    head = text[:65536].lstrip("\ufeff \t\r\n")
    ext = extension(name)
    if head.startswith("WEBVTT"):
        return "vtt"
    if "[script info]" in head[:4096].lower():
        return _ass_or_ssa(head, ext)
    if head.startswith("<"):
        return _markup_format(head)
    if ext in (".vtt", ".webvtt") and VTT_TIMING.search(head):
        return "vtt"  # a WebVTT file without its header: read, and the header reported
    if SRT_TIMING.search(head):
        return "srt"
    raise Unreadable(_not_subtitles(ext))


def _ass_or_ssa(head: str, ext: str) -> str:
    lowered = head[:8192].lower()
    if "v4.00+" in lowered or "[v4+ styles]" in lowered:
        return "ass"
    if "v4.00" in lowered or "[v4 styles]" in lowered:
        return "ssa"
    return "ssa" if ext == ".ssa" else "ass"


def _markup_format(head: str) -> str:
    if HTML_START.search(head[:4096]):
        raise Unreadable("is an HTML page, not a subtitle file")
    if DECLARATIONS.search(head):
        raise Unreadable(
            "is refused: its XML declares a DOCTYPE or entities, which TTML does not use "
            "(entity expansion can exhaust memory)"
        )
    if TTML_ROOT.search(head) and any(ns in head for ns in TTML_NAMESPACES):
        return "ttml"
    raise Unreadable("is an XML document but not TTML (no <tt> element in the TTML namespace)")


def _not_subtitles(ext: str) -> str:
    if ext in UNSUPPORTED:
        return f"is {UNSUPPORTED[ext]}, which KickFlow does not read: {ACCEPTED}"
    if ext in EXTENSIONS:
        wanted = FORMATS[EXTENSIONS[ext]]
        return f"is not a subtitle file: it has none of {wanted}'s cue timings"
    return f"is not a subtitle file KickFlow can read ({ACCEPTED})"


def name_mismatch(name: str, fmt: str) -> str | None:
    """A sentence when the file's extension promises another format than its content."""
    ext = extension(name)
    named = EXTENSIONS.get(ext)
    if named is None or named == fmt or {named, fmt} == {"ass", "ssa"}:
        return None
    return f"the file is named {ext} but contains {FORMATS[fmt]}"
