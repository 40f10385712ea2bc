"""What the jobs list can be narrowed by: one :class:`JobFilter`, checked once, read by the SQL
query (:func:`kickflow.jobs.queries.list_jobs`) and by the in-memory fake (:meth:`matches`), so
the two cannot disagree about what a filter means.

Every filter is optional and they combine with AND. ``text`` is a substring of the file name,
taken literally (``%`` and ``_`` are not wildcards), ignoring the case of ASCII letters only
(:func:`fold`): what SQLite's LIKE does natively, and the cheapest folding on PostgreSQL, so
every store answers alike. ``created_from`` is inclusive, ``created_to`` exclusive (epoch
seconds of the store's clock), so consecutive ranges never overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kickflow.errors import RequestInvalid
from kickflow.jobs.models import Job
from kickflow.jobs.states import JobState

VERDICTS = ("passed", "needs_review", "failed")
MAX_TEXT = 200
LIKE_ESCAPE = "\\"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """``text`` with ASCII letters lower-cased and everything else as it is."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a list shows; empty strings mean "no filter" (what a blank form field sends)."""

    state: str | None = None
    verdict: str | None = None
    project: str | None = None
    profile: str | None = None
    text: str | None = None
    created_from: float | None = None
    created_to: float | None = None

    def __post_init__(self) -> None:
        if self.state and self.state not in {s.value for s in JobState}:
            known = ", ".join(s.value for s in JobState)
            raise RequestInvalid(f"state: unknown state {self.state!r} (one of {known})")
        if self.verdict and self.verdict not in VERDICTS:
            raise RequestInvalid(
                f"verdict: unknown verdict {self.verdict!r} (one of {', '.join(VERDICTS)})"
            )
        if self.text and len(self.text) > MAX_TEXT:
            raise RequestInvalid(f"text: at most {MAX_TEXT} characters")
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise RequestInvalid(f"{name}: not a time")

    def like_pattern(self) -> str | None:
        """``%text%``, folded, with LIKE's wildcards and the escape character escaped by a
        backslash (what :class:`~kickflow.jobs.sqlfuncs.like_folded` takes)."""
        if not self.text:
            return None
        escaped = fold(self.text)
        for char in (LIKE_ESCAPE, "%", "_"):
            escaped = escaped.replace(char, LIKE_ESCAPE + char)
        return f"%{escaped}%"

    def matches(self, job: Job) -> bool:
        """Whether ``job`` passes every filter (the fake's reading; the SQL query's twin)."""
        needle = fold(self.text) if self.text else None
        checks = (
            not self.state or job.state.value == self.state,
            not self.verdict or job.verdict == self.verdict,
            not self.project or job.project == self.project,
            not self.profile or job.profile == self.profile,
            needle is None or needle in fold(job.file_name),
            self.created_from is None or job.created_at >= self.created_from,
            self.created_to is None or job.created_at < self.created_to,
        )
        return all(checks)
