"""An organisation's daily transcription cap (KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES) as the
attempt pipeline applies it: the job's budget is the profile's, cut to what the organisation
has left of the cap today (UTC), and what the transcriber sent is added to its usage after the
engine ran, whether or not the attempt then succeeds (the provider was paid either way).

Usage is counted in the transcriber's own unit (``Transcriber.spent_s``, the audio it sent,
halved chunks counted once), so the cap and the per-job budget measure the same thing. Two
jobs of one organisation that start together may both see the same remainder and overshoot
the cap by up to one job's budget: the cap is a spending guard, not an exact quota.

A direct worker reads and adds usage in its SQL store (:class:`~kickflow.jobs.TranscriptionUsage`)
under its own setting. A worker on the worker protocol asks the service, fenced by the job's
lease (:class:`LeaseUsagePort`): the cap is then the service's setting, so one organisation
has one cap whichever machines its jobs run on. A service that cannot be asked leaves the job
within its profile's budget alone (logged).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kickflow.config import Settings
from kickflow.errors import KickflowError
from kickflow.jobs import Job, Lease, TranscriptionUsage, WorkerPort
from kickflow.worker import logs

if TYPE_CHECKING:
    from kickflow.speech.transcribe import Transcriber


def utc_day(epoch: float | None = None) -> str:
    """The UTC date of ``epoch`` (default: now) as the usage table keys it (``2026-12-01``)."""
    at = time.time() if epoch is None else epoch
    return datetime.fromtimestamp(at, UTC).date().isoformat()


@dataclass(frozen=True)
class OrgUsage:
    """One job's view of its organisation's usage today."""

    usage: TranscriptionUsage
    org_id: str
    day: str
    cap_s: float  # 0: no cap (usage is still recorded)

    def budget_s(self, profile_budget_s: float) -> float:
        """The job's budget: the profile's, cut to what is left of today's cap (never < 0)."""
        if self.cap_s <= 0:
            return profile_budget_s
        left = self.cap_s - self.usage.transcription_used_s(self.org_id, self.day)
        return max(0.0, min(profile_budget_s, left))

    def record(self, transcriber: Transcriber | None, job: Job) -> None:
        """Add what ``transcriber`` sent; a failed write is logged, never fails the job (the
        transcript is already paid for, and a retry would only send the audio again)."""
        spent = 0.0 if transcriber is None else transcriber.spent_s
        if spent <= 0:
            return
        try:
            self.usage.add_transcription_usage(self.org_id, self.day, spent)
        except KickflowError as exc:
            logs.warning("usage_unrecorded", job=job.id, seconds=spent, error=exc.message)


@dataclass(frozen=True)
class UsageAnswer:
    """The service's view of a job's organisation today: its cap and what it has used."""

    cap_s: float
    used_s: float


@runtime_checkable
class LeaseUsagePort(Protocol):
    """Usage through the service (the worker protocol client): read with ``add_s=0``, add
    otherwise; the organisation is the leased job's, so a worker can touch no other."""

    def transcription_usage(self, lease: Lease, add_s: float = 0.0) -> UsageAnswer: ...


@dataclass(frozen=True)
class _ThroughLease:
    """:class:`TranscriptionUsage` for one job, answered by the service under its lease."""

    port: LeaseUsagePort
    lease: Lease

    def transcription_used_s(self, org_id: str, day: str) -> float:
        return self.port.transcription_usage(self.lease).used_s

    def add_transcription_usage(self, org_id: str, day: str, seconds: float) -> None:
        self.port.transcription_usage(self.lease, seconds)


def org_usage(store: WorkerPort, settings: Settings, job: Job, lease: Lease) -> OrgUsage | None:
    """The job's organisation's usage, or None when neither the store nor the service keeps
    it (see the module)."""
    if isinstance(store, TranscriptionUsage):
        cap_s = settings.transcription_org_daily_minutes * 60
        return OrgUsage(store, job.org_id, utc_day(), cap_s)
    if not isinstance(store, LeaseUsagePort):
        return None
    try:
        answer = store.transcription_usage(lease)
    except KickflowError as exc:
        logs.warning("usage_unavailable", job=job.id, error=exc.message)
        return None
    return OrgUsage(_ThroughLease(store, lease), job.org_id, utc_day(), answer.cap_s)
