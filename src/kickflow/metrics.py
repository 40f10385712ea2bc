"""Prometheus text exposition of the service's state.

Every process (API, embedded or remote workers) writes to the one database, so the numbers are
read from it at scrape time into a :class:`Snapshot` and rendered here; no per-process counters
that a second API replica would not see. Counters come from the job event history, so they only
go down when jobs are deleted (Prometheus treats that as a counter reset).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JOB_STATES = ("queued", "running", "completed", "failed", "cancelled", "paused")
FINISHED_STATES = ("completed", "failed", "cancelled")
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
ATTEMPT_BUCKETS = (1.0, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (one per upper bound, ``+Inf`` implied by ``count``)."""

    bounds: Sequence[float]
    cumulative: Sequence[int]
    count: int
    total: float

    @classmethod
    def of(cls, values: Iterable[float], bounds: Sequence[float]) -> Histogram:
        """A histogram of ``values`` (for small inputs and tests)."""
        items = list(values)
        cumulative = [sum(1 for v in items if v <= b) for b in bounds]
        return cls(bounds, cumulative, len(items), float(sum(items)))

    def buckets(self) -> list[tuple[str, float]]:
        pairs = [(_bound(b), float(c)) for b, c in zip(self.bounds, self.cumulative, strict=True)]
        return [*pairs, ("+Inf", float(self.count))]


def _bound(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def empty_histogram(bounds: Sequence[float]) -> Histogram:
    return Histogram(bounds, [0] * len(bounds), 0, 0.0)


@dataclass(frozen=True)
class Snapshot:
    """Everything ``/metrics`` reports, read from the database in one go."""

    jobs_by_state: Mapping[str, int]
    stuck: int
    queue_oldest_age_seconds: float
    workers_alive: int
    reaper_last_run: float
    finished_by_state: Mapping[str, int]
    recoveries_by_reason: Mapping[str, int]
    ffmpeg_kills_by_reason: Mapping[str, int]
    fenced_writes: int
    job_duration: Histogram = field(default_factory=lambda: empty_histogram(DURATION_BUCKETS))
    phase_durations: Mapping[str, Histogram] = field(default_factory=dict)
    attempts: Histogram = field(default_factory=lambda: empty_histogram(ATTEMPT_BUCKETS))


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from _gauges(self.snapshot)
        yield from _counters(self.snapshot)
        yield from _histograms(self.snapshot)


def _gauges(s: Snapshot) -> Iterator[Metric]:
    jobs = GaugeMetricFamily("kickflow_jobs", "Jobs by state.", labels=["state"])
    for state in JOB_STATES:
        jobs.add_metric([state], s.jobs_by_state.get(state, 0))
    yield jobs
    yield _gauge(
        "kickflow_jobs_stuck", "Running jobs past their lease or without progress.", s.stuck
    )
    yield _gauge(
        "kickflow_queue_oldest_age_seconds",
        "Age of the oldest queued job that is due to run (0 when none).",
        s.queue_oldest_age_seconds,
    )
    yield _gauge("kickflow_workers_alive", "Workers with a recent heartbeat.", s.workers_alive)
    yield _gauge(
        "kickflow_reaper_last_run_timestamp_seconds",
        "Unix time of the reaper's last completed run (0 = never).",
        s.reaper_last_run,
    )


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counters(s: Snapshot) -> Iterator[Metric]:
    yield _labelled_counter(
        "kickflow_jobs_finished",
        "Job attempts that ended, by final state.",
        "state",
        {st: s.finished_by_state.get(st, 0) for st in FINISHED_STATES},
    )
    yield _labelled_counter(
        "kickflow_recoveries",
        "Stuck jobs recovered by the reaper, by reason.",
        "reason",
        s.recoveries_by_reason,
    )
    yield _labelled_counter(
        "kickflow_ffmpeg_kills",
        "FFmpeg processes killed by the watchdog, by reason.",
        "reason",
        s.ffmpeg_kills_by_reason,
    )
    yield CounterMetricFamily(
        "kickflow_fenced_writes",
        "Worker writes rejected because the lease was lost.",
        value=s.fenced_writes,
    )


def _labelled_counter(
    name: str, doc: str, label: str, values: Mapping[str, int]
) -> CounterMetricFamily:
    metric = CounterMetricFamily(name, doc, labels=[label])
    for key in sorted(values):
        metric.add_metric([key], values[key])
    return metric


def _histograms(s: Snapshot) -> Iterator[Metric]:
    duration = HistogramMetricFamily(
        "kickflow_job_duration_seconds", "Run time of completed jobs (last attempt)."
    )
    duration.add_metric([], s.job_duration.buckets(), s.job_duration.total)
    yield duration
    phases = HistogramMetricFamily(
        "kickflow_phase_duration_seconds", "Time spent per pipeline phase.", labels=["phase"]
    )
    for phase in sorted(s.phase_durations):
        hist = s.phase_durations[phase]
        phases.add_metric([phase], hist.buckets(), hist.total)
    yield phases
    attempts = HistogramMetricFamily("kickflow_job_attempts", "Attempts used by finished jobs.")
    attempts.add_metric([], s.attempts.buckets(), s.attempts.total)
    yield attempts


def render(snapshot: Snapshot) -> bytes:
    """The Prometheus text exposition of ``snapshot``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)
