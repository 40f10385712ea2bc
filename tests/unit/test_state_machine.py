"""Every legal and every illegal job state change, through the one state machine module."""

from __future__ import annotations

import itertools

import pytest

from kickflow.errors import IllegalTransition
from kickflow.jobs import states
from kickflow.jobs.states import JobState

Q, R, C, F, X, P = (
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.PAUSED,
)

LEGAL = {
    ("claim", Q): R,
    ("complete", R): C,
    ("fail", R): F,
    ("retry_later", R): Q,
    ("release", R): Q,
    ("reap_requeue", R): Q,
    ("reap_fail", R): F,
    ("cancel", Q): X,
    ("cancel", P): X,
    ("cancel_ack", R): X,
    ("cancel_stuck", R): X,
    ("pause", Q): P,
    ("pause_ack", R): P,
    ("resume", P): Q,
    ("requeue", F): Q,
    ("requeue", X): Q,
    ("requeue", C): Q,
}
ALL = list(itertools.product(sorted(states.TRANSITIONS), list(JobState)))


@pytest.mark.parametrize(("action", "state"), [k for k in ALL if k in LEGAL])
def test_legal_transition(action: str, state: JobState) -> None:
    assert states.check(action, state) is LEGAL[(action, state)]
    assert states.is_legal(action, state.value)


@pytest.mark.parametrize(("action", "state"), [k for k in ALL if k not in LEGAL])
def test_illegal_transition_raises(action: str, state: JobState) -> None:
    with pytest.raises(IllegalTransition) as err:
        states.check(action, state)
    assert err.value.code == "illegal_transition"
    assert state.value in str(err.value)
    assert not states.is_legal(action, state)


def test_table_is_exactly_the_expected_machine() -> None:
    table = {(a, s): t.target for a, t in states.TRANSITIONS.items() for s in t.sources}
    assert table == LEGAL


def test_terminal_states_only_leave_by_requeue() -> None:
    for action, state in ALL:
        if state in states.TERMINAL and states.is_legal(action, state):
            assert action == "requeue"


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown job action"):
        states.check("teleport", Q)
