"""``/metrics``' counters and histograms over the fake's rows, as :mod:`kickflow.jobs.stats`
computes them in SQL (its constants are used as they are)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kickflow.jobs import JobHistory, JobState
from kickflow.jobs.stats import FFMPEG_KILL_CODES, TERMINAL_VALUES
from kickflow.metrics import Histogram
from tests.fakes.tables import Tables


def history(
    t: Tables, duration_bounds: Sequence[float], attempt_bounds: Sequence[float]
) -> JobHistory:
    """Every number of :class:`~kickflow.jobs.JobHistory`, from one snapshot of the tables."""
    finished = Counter(
        e.to_state
        for e in t.events
        if e.to_state in TERMINAL_VALUES and e.from_state is not None and e.from_state != e.to_state
    )
    recoveries = Counter(e.code for e in t.events if e.kind == "reaped" and e.code is not None)
    kills = Counter(
        e.code
        for e in t.events
        if e.kind in ("failed", "retry_scheduled") and e.code in FFMPEG_KILL_CODES
    )
    durations = [
        j.finished_at - j.started_at
        for j in t.jobs.values()
        if j.state is JobState.COMPLETED and j.started_at is not None and j.finished_at is not None
    ]
    ended = (JobState.COMPLETED, JobState.FAILED)
    attempts = [float(j.attempt) for j in t.jobs.values() if j.state in ended]
    return JobHistory(
        finished_by_state={str(s): n for s, n in finished.items()},
        recoveries_by_reason={str(c): n for c, n in recoveries.items()},
        ffmpeg_kills_by_reason={str(c): n for c, n in kills.items()},
        fenced_writes=sum(1 for e in t.events if e.kind == "fenced"),
        job_duration=Histogram.of(durations, duration_bounds),
        attempts=Histogram.of(attempts, attempt_bounds),
    )
