"""Which event a finished job is. ``job.failed`` is the *job* failing (the file could not be
checked: unreadable media, a download that kept failing, attempts exhausted); a file that was
checked and failed QC is ``job.completed`` with ``verdict: "failed"``. A cancelled job sends
nothing."""

from __future__ import annotations

from collections.abc import Iterable

from kickflow.errors import WebhookEventsInvalid
from kickflow.jobs import Job, JobState

COMPLETED = "job.completed"
FAILED = "job.failed"
NEEDS_REVIEW = "job.needs_review"
PING = "ping"
EVENTS = (COMPLETED, FAILED, NEEDS_REVIEW)


def event_for(job: Job) -> str | None:
    """The event ``job`` (in a terminal state) is, or None when it sends none."""
    if job.state is JobState.FAILED:
        return FAILED
    if job.state is not JobState.COMPLETED:
        return None
    return NEEDS_REVIEW if job.verdict == "needs_review" else COMPLETED


def check_events(chosen: Iterable[str]) -> tuple[str, ...]:
    """The chosen events in the canonical order, each once; WebhookEventsInvalid when one is
    unknown or none is chosen."""
    wanted = {e.strip() for e in chosen if e.strip()}
    if not wanted or not wanted <= set(EVENTS):
        raise WebhookEventsInvalid()
    return tuple(e for e in EVENTS if e in wanted)
