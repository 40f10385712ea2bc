"""Roles: the user roles include each other in order; ``worker`` stands apart."""

from __future__ import annotations

import pytest

from kickflow.errors import RequestInvalid
from kickflow.jobs.accounts import (
    ROLES,
    USER_ROLES,
    Principal,
    Role,
    check_label,
    parse_role,
)


def who(role: Role) -> Principal:
    return Principal("org", role, "token")


@pytest.mark.parametrize("role", USER_ROLES)
def test_a_worker_token_passes_no_user_role_check(role: Role) -> None:
    assert not who("worker").may(role)


@pytest.mark.parametrize("role", USER_ROLES)
def test_no_user_role_passes_the_worker_check(role: Role) -> None:
    assert not who(role).may("worker")


def test_the_worker_role_passes_its_own_check() -> None:
    assert who("worker").may("worker") and who("worker").is_worker
    assert not who("worker").is_operator


def test_user_roles_include_the_ones_before_them() -> None:
    for i, mine in enumerate(USER_ROLES):
        for j, needed in enumerate(USER_ROLES):
            assert who(mine).may(needed) is (i >= j), (mine, needed)


def test_roles_parse_and_unknown_ones_name_the_valid_ones() -> None:
    assert [parse_role(r) for r in ROLES] == list(ROLES)
    assert "worker" in ROLES
    with pytest.raises(RequestInvalid, match="viewer, member, admin, operator, worker"):
        parse_role("root")


@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "empty"), ("   ", "empty"), ("x" * 201, "at most 200"), ("a\x00b", "control")],
)
def test_labels_are_refused_with_the_rule_they_break(value: str, problem: str) -> None:
    with pytest.raises(RequestInvalid, match=problem):
        check_label("organisation name", value)


def test_labels_are_stripped() -> None:
    assert check_label("organisation name", "  studio b ") == "studio b"
    assert check_label("organisation name", "x" * 200) == "x" * 200
