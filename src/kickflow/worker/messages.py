"""Turn an attempt's error into one actionable sentence that says whether it will be retried,
fit for the job's owner: no server paths (only the path they submitted), no worker ids."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kickflow.errors import InputError, KickflowError

PHASE_LABELS = {
    "initializing": "initialising",
    "downloading": "download",
    "analyzing": "analysis",
    "thumbnails": "thumbnails",
    "reporting": "report",
}
NOT_RETRIED = "not retried"
# An absolute path: a slash at the start of the text or after a space, quote, bracket or '='
# ("MB/s" and "audio/video" are not paths), up to a space, quote or colon (FFmpeg writes
# "<path>: <reason>").
SERVER_PATH = re.compile(r"(?<![^\s'\"(\[=])/[^\s'\":]+")


def _located(exc: KickflowError, text: str, phase: str, progress: float) -> str:
    label = PHASE_LABELS.get(phase, phase)
    if "— killed" in text:  # the watchdog already says how long and at what percentage
        return text.replace(" — killed", f" ({label}) — killed", 1)
    if isinstance(exc, InputError) or NOT_RETRIED in text:
        return text  # the input's own sentence is the clearest one
    return f"{text} during {label} at {progress:.0f}%"


def failure_message(exc: KickflowError, phase: str, progress: float, *, will_retry: bool) -> str:
    """E.g. "FFmpeg made no progress for 120 s at 63% (analysis) — killed; will retry"."""
    text = _located(exc, exc.message.strip().rstrip("."), phase, progress)
    if NOT_RETRIED in text or (isinstance(exc, InputError) and not will_retry):
        return text
    if will_retry:
        return f"{text}; will retry"
    if exc.permanent:
        return f"{text} — {NOT_RETRIED}"
    return f"{text} — gave up: no attempts left"


def _basename(match: re.Match[str]) -> str:
    name = match.group(0).rstrip("/").rsplit("/", 1)[-1]
    return name or "…"


def redact(text: str, keep: Sequence[str] = ()) -> str:
    """``text`` with every absolute path cut to its file name, except the paths in ``keep``
    (what the job's owner submitted, which they know already)."""
    kept = sorted((k for k in keep if len(k) > 1), key=len, reverse=True)
    if not kept:
        return SERVER_PATH.sub(_basename, text)
    first, rest = kept[0], kept[1:]
    return first.join(redact(piece, rest) for piece in text.split(first))


def unexpected_message(exc: BaseException, phase: str) -> str:
    """A bug or an unforeseen failure: say where it happened, keep the worker alive."""
    label = PHASE_LABELS.get(phase, phase)
    return f"unexpected error during {label}: {type(exc).__name__}: {exc}"
