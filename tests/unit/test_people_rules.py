"""The people rules of :mod:`kickflow.jobs.people` that the SQL store and the fake both apply
(address shape, user roles, session liveness and invitation states, at their boundaries), and
the HTTP statuses of the people errors."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from kickflow.api.errors import install, status_for
from kickflow.errors import (
    InvitationInvalid,
    RequestInvalid,
    SignInThrottled,
    UserExists,
    UserNotFound,
)
from kickflow.jobs.people import (
    SESSION_TOUCH_S,
    invitation_state,
    needs_touch,
    normalise_email,
    parse_user_role,
    session_live,
    stronger_role,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [(" Ann@Example.COM ", "ann@example.com"), ("admin@localhost", "admin@localhost")],
)
def test_addresses_are_stored_stripped_and_lower_case(typed: str, stored: str) -> None:
    assert normalise_email(typed) == stored


@pytest.mark.parametrize(
    "bad", ["", "ann", "a@", "@b", "a b@c", "a@b@c", "a\x07@b", "a@" + "b" * 253]
)
def test_malformed_addresses_are_refused(bad: str) -> None:
    with pytest.raises(RequestInvalid, match="email address"):
        normalise_email(bad)


def test_people_have_user_roles_only() -> None:
    assert parse_user_role("admin") == "admin"
    with pytest.raises(RequestInvalid, match="not 'worker'"):
        parse_user_role("worker")
    assert stronger_role("viewer", "admin") == stronger_role("admin", "viewer") == "admin"


def test_session_liveness_at_the_boundaries() -> None:
    assert session_live(None, 100.0, 50.0, 99.9, 60.0)
    assert not session_live(None, 100.0, 50.0, 100.0, None), "expired at its expiry"
    assert not session_live(1.0, 100.0, 50.0, 60.0, None), "revoked"
    assert not session_live(None, 100.0, 30.0, 90.0, 60.0), "idle for the whole limit"
    assert session_live(None, 100.0, 30.0, 90.0, None), "no idle limit asked"
    assert needs_touch(0.0, SESSION_TOUCH_S) and not needs_touch(0.0, SESSION_TOUCH_S - 0.1)


def test_invitation_states() -> None:
    assert invitation_state(None, None, 10.0, 9.0) == "pending"
    assert invitation_state(None, None, 10.0, 10.0) == "expired"
    assert invitation_state(5.0, None, 10.0, 20.0) == "accepted"
    assert invitation_state(None, 5.0, 10.0, 9.0) == "revoked"


def test_people_errors_have_their_statuses() -> None:
    assert [status_for(e) for e in (UserExists(), UserNotFound(), InvitationInvalid())] == [
        409, 404, 410,
    ]  # fmt: skip
    assert "ask your admin for a new one" in InvitationInvalid().message


def test_a_throttled_sign_in_says_when_to_come_back() -> None:
    app = FastAPI()
    install(app)

    @app.post("/api/sign-in")
    def sign_in() -> None:
        raise SignInThrottled(29.2)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/api/sign-in")

    reply = asyncio.run(post())
    assert reply.status_code == 429 and reply.headers["Retry-After"] == "30"
    assert reply.json()["error"]["message"] == "Too many failed sign-ins: try again in 30 seconds."
