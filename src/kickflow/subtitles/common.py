"""What every format reader returns, and the limits that keep hostile files bounded."""

from __future__ import annotations

from dataclasses import dataclass

from kickflow.media.model import Cue, ParseProblem

# A feature film has about 1,500 cues and a day of live captions some 30,000: beyond this a
# file is generated junk, and reading it would only cost memory and time.
MAX_CUES = 100_000
# Problems kept per file: the first ones locate the fault; a count stands for the rest.
MAX_PROBLEMS = 200
# The TTML reader follows nesting with a stack; real documents nest a handful of levels.
MAX_XML_DEPTH = 100
SNIPPET_CHARS = 40


class Unreadable(Exception):
    """The file cannot be read at all; the message completes a sentence after its name."""


@dataclass(frozen=True)
class Parsed:
    """One reader's result: the cues in file order, what was wrong, the document's language."""

    cues: tuple[Cue, ...]
    problems: tuple[ParseProblem, ...] = ()
    language: str | None = None


def too_many_cues() -> Unreadable:
    return Unreadable(
        f"has more than {MAX_CUES:,} cues (a feature film has about 1,500): it was not read"
    )


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` on one line, cut at ``limit`` characters with an ellipsis (for messages)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class Problems:
    """Collects a file's problems, keeping the first MAX_PROBLEMS and counting the rest."""

    def __init__(self) -> None:
        self.kept: list[ParseProblem] = []
        self.dropped = 0

    def add(self, line: int | None, message: str) -> None:
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(ParseProblem(line, message))
        else:
            self.dropped += 1

    def result(self) -> tuple[ParseProblem, ...]:
        """The problems in file order (as the cues are), then the count of the rest."""
        kept = tuple(sorted(self.kept, key=lambda p: p.line or 0))
        if not self.dropped:
            return kept
        return (*kept, ParseProblem(None, f"{self.dropped:,} more problems not listed"))
