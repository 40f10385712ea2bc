"""The one job state machine: every state change in the product is one of these actions.

Queue operations turn an action into a conditional ``UPDATE … WHERE state IN (sources)`` and
call :func:`check` when nothing matched, so an illegal change always raises
:class:`~kickflow.errors.IllegalTransition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kickflow.errors import IllegalTransition


class JobState(StrEnum):
    """Where a job is in its life; the QC verdict is separate."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"


Q, R, C, F, X, P = (
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.PAUSED,
)

TERMINAL: frozenset[JobState] = frozenset({C, F, X})
ACTIVE: frozenset[JobState] = frozenset({Q, R, P})


@dataclass(frozen=True)
class Transition:
    """A named state change allowed only from ``sources``."""

    action: str
    sources: frozenset[JobState]
    target: JobState

    @property
    def source_values(self) -> list[str]:
        return sorted(s.value for s in self.sources)


def _t(action: str, sources: set[JobState], target: JobState) -> Transition:
    return Transition(action, frozenset(sources), target)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        _t("claim", {Q}, R),
        _t("complete", {R}, C),
        _t("fail", {R}, F),  # permanent error, or attempts exhausted
        _t("retry_later", {R}, Q),  # transient error with attempts left: backoff
        _t("release", {R}, Q),  # graceful shutdown: attempt refunded
        _t("reap_requeue", {R}, Q),  # lease expired / no progress, attempts left
        _t("reap_fail", {R}, F),  # lease expired / no progress, attempts exhausted
        _t("cancel", {Q, P}, X),
        _t("cancel_ack", {R}, X),  # the worker stopped after a cancel request
        _t("cancel_stuck", {R}, X),  # operator gave up on a stuck job
        _t("pause", {Q}, P),
        _t("pause_ack", {R}, P),  # the worker stopped after a pause request
        _t("resume", {P}, Q),
        _t("requeue", {F, X, C}, Q),  # dead-letter redrive / reprocess; keeps history
    )
}


def transition(action: str) -> Transition:
    """The transition named ``action`` (a programming error if unknown)."""
    try:
        return TRANSITIONS[action]
    except KeyError:
        raise ValueError(f"unknown job action {action!r}") from None


def check(action: str, current: JobState | str) -> JobState:
    """The state after ``action`` from ``current``; raises IllegalTransition if not allowed."""
    t = transition(action)
    state = JobState(current)
    if state not in t.sources:
        raise IllegalTransition(action, state.value)
    return t.target


def is_legal(action: str, current: JobState | str) -> bool:
    """Whether ``action`` may happen from ``current``."""
    return JobState(current) in transition(action).sources
