"""Password hashing (argon2id), the rules for a new password, and the throttled sign-in's
message."""

from __future__ import annotations

import pytest

from kickflow.errors import RequestInvalid, SignInThrottled
from kickflow.security.passwords import (
    MAX_LENGTH,
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_a_hash_is_argon2id_salted_and_verifies_only_its_password(stored: str) -> None:
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert hash_password(PASSWORD) != stored, "a fresh salt every time"
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + " ")
    assert not verify_password(stored, PASSWORD.upper())
    assert not needs_rehash(stored)


def test_odd_input_is_no_match_rather_than_an_error(stored: str) -> None:
    assert not verify_password(None, PASSWORD), "no account: a verification, then no"
    assert not verify_password("not a hash", PASSWORD)
    assert not verify_password(stored, "x" * (MAX_LENGTH + 1))
    assert not verify_password(stored, "\ud800 lone surrogate")
    assert verify_password(hash_password("\ud800 lone surrogate"), "\ud800 lone surrogate")
    assert needs_rehash("not a hash")


def test_weaker_parameters_need_a_rehash() -> None:
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert verify_password(old, PASSWORD) and needs_rehash(old)


@pytest.mark.parametrize(
    ("plain", "says"),
    [
        ("short", "at least 10"),
        ("", "at least 10"),
        ("a" * 12, "one character repeated"),
        ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH}"),
    ],
)
def test_a_new_password_is_refused_in_one_sentence(plain: str, says: str) -> None:
    with pytest.raises(RequestInvalid, match=says):
        check_new_password(plain)


def test_a_good_new_password_is_returned_as_typed() -> None:
    assert check_new_password("  ten chars ") == "  ten chars "
    assert check_new_password("é" * 9 + "!") == "é" * 9 + "!"


def test_sign_in_throttled_rounds_up_to_whole_seconds() -> None:
    assert SignInThrottled(0.2).retry_after == 1
    slow = SignInThrottled(61.5)
    assert slow.retry_after == 62 and "try again in 62 seconds" in slow.message
    assert "1 second." in SignInThrottled(1).message
