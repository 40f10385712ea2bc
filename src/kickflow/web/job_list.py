"""The pure parts of the Jobs page: the filter form read from the query string (kept as typed,
checked into store filters), the links that keep it, relative times, and the sentence that
says what a bulk action did to each job.

Dates are calendar days in UTC (the page shows every time in UTC): ``from`` is the start of
its day, ``to`` the end of its day, so "from 1 May to 1 May" is the whole of 1 May.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from kickflow.errors import RequestInvalid
from kickflow.jobs import BulkResult, Job, JobState
from kickflow.jobs.listing import MAX_TEXT, VERDICTS

STATES = tuple(s.value for s in JobState)
PAGE_SIZE = 50
MAX_TYPED = 300  # what the form echoes back at most, whatever was sent
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # what <input type="date"> sends
LIMITS = {"project": 200, "profile": 100, "q": MAX_TEXT}
QUERY_NAMES = {"date_from": "from", "date_to": "to"}  # the form's names that are not ours


@dataclass(frozen=True)
class ListForm:
    """The filter form as the user typed it (every field a string, "" when blank)."""

    state: str = ""
    verdict: str = ""
    project: str = ""
    profile: str = ""
    q: str = ""
    date_from: str = ""
    date_to: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ListForm:
        """The form from a query string (``from``/``to`` for the dates), each value stripped
        and cut to what the form shows again."""
        values = {}
        for name in cls.__dataclass_fields__:
            raw = params.get(QUERY_NAMES.get(name, name), "")
            values[name] = raw.strip()[:MAX_TYPED]
        return cls(**values)

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(asdict(self).values())

    def store_filter(self) -> dict[str, Any]:
        """The ``list_jobs`` keywords; RequestInvalid with one sentence for anything wrong."""
        if self.state and self.state not in STATES:
            raise RequestInvalid(f"There is no job state called {self.state!r}.")
        if self.verdict and self.verdict not in VERDICTS:
            raise RequestInvalid(f"There is no verdict called {self.verdict!r}.")
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if len(value) > limit:
                raise RequestInvalid(f"The {_label(name)} filter is at most {limit} characters.")
            if CONTROL.search(value):
                raise RequestInvalid(f"The {_label(name)} filter has control characters.")
        start = _day("from", self.date_from)
        end = _day("to", self.date_to)
        if start and end and start > end:
            raise RequestInvalid("The 'from' date is after the 'to' date.")
        return {
            "state": self.state or None,
            "verdict": self.verdict or None,
            "project": self.project or None,
            "profile": self.profile or None,
            "text": self.q or None,
            "created_from": _epoch(start) if start else None,
            "created_to": _epoch(end + timedelta(days=1)) if end else None,
        }

    def query(self, cursor: str | None = None) -> str:
        """The query string of this form (and ``cursor``), blank fields left out."""
        pairs = [(QUERY_NAMES.get(k, k), v) for k, v in asdict(self).items() if v]
        if cursor:
            pairs.append(("cursor", cursor))
        return urlencode(pairs)

    def url(self, cursor: str | None = None) -> str:
        """``/jobs`` with this form (and ``cursor``)."""
        query = self.query(cursor)
        return f"/jobs?{query}" if query else "/jobs"


def _label(name: str) -> str:
    return {"q": "file name"}.get(name, name)


def _day(which: str, value: str) -> date | None:
    if not value:
        return None
    refused = RequestInvalid(f"The '{which}' date {value!r} is not a date: use YYYY-MM-DD.")
    if not DATE.fullmatch(value):
        raise refused
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise refused from None


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def relative(now: float, then: float) -> str:
    """How long ago ``then`` was, in words a list can show ("4 min ago")."""
    seconds = max(0.0, now - then)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return "just now"


def safe_return(url: str) -> str:
    """Where a form on the Jobs page sends the browser back to: the list it came from, never
    anywhere else."""
    if url == "/jobs" or (url.startswith("/jobs?") and "\\" not in url and not CONTROL.search(url)):
        return url
    return "/jobs"


# --- what a bulk action did ----------------------------------------------------------------------

VERBS = {"retry": "re-queued", "cancel": "cancelled", "delete": "deleted"}
NOT_DONE = {"retry": "not retried", "cancel": "not cancelled", "delete": "not deleted"}


def jobs_count(n: int) -> str:
    return f"{n} job{'' if n == 1 else 's'}"


def _was(n: int) -> str:
    return "was" if n == 1 else "were"


def bulk_outcome(action: str, before: Mapping[str, Job], result: BulkResult) -> str:
    """One sentence about every job a bulk action was asked for ("3 jobs re-queued; 1 was
    running and was not retried."). ``before`` holds the jobs as they were, by id (an id
    missing there was not found in the organisation)."""
    parts = []
    if action == "cancel":
        stopping = sum(1 for j in result.done if j.state is JobState.RUNNING)
        if len(result.done) - stopping or not stopping:
            parts.append(f"{jobs_count(len(result.done) - stopping)} cancelled")
        if stopping:
            asked = "job was" if stopping == 1 else "jobs were"
            parts.append(f"{stopping} running {asked} asked to stop")
    else:
        parts.append(f"{jobs_count(len(result.done))} {VERBS[action]}")
    refused = Counter(before[i].state.value if i in before else "missing" for i in result.refused)
    for state, n in sorted(refused.items()):
        if state == "missing":
            parts.append(f"{n} {_was(n)} not found")
        else:
            parts.append(f"{n} {_was(n)} {state} and {_was(n)} {NOT_DONE[action]}")
    return "; ".join(parts) + "."
