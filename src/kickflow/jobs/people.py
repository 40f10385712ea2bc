"""People of the dashboard: users, their memberships of organisations, browser sessions,
invitations and failed sign-ins (for rate limiting).

A user signs in with an email address and a password (hashed by
:mod:`kickflow.security.passwords`; this module only stores the hash) and belongs to one or more
organisations with a user role in each (``viewer`` < ``member`` < ``admin`` < ``operator``, as
API tokens have; never ``worker``). A session is one organisation at a time: its role is always
the membership's role *now*, read with the session on every request, so a changed or removed
membership takes effect at the next page. Session and invitation secrets are random, handed out
once and stored as SHA-256 only (like API tokens).

The rules every store applies are the pure functions here (:func:`normalise_email`,
:func:`parse_user_role`, :func:`session_live`, :func:`invitation_state`, …): the SQL store
(:mod:`kickflow.jobs.people_sql`) and the test fake call the same ones.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal

from kickflow.errors import RequestInvalid
from kickflow.jobs.accounts import CONTROL_CHARACTERS, USER_ROLES, Role, check_label

InvitationState = Literal["pending", "accepted", "expired", "revoked"]

EMAIL_MAX = 254  # RFC 5321's limit on a forward path; the column's size
PASSWORD_HASH_MAX = 255  # the column's size
USER_AGENT_MAX = 300
ADDRESS_MAX = 64
FAILURE_KEY_MAX = 300
# A session's last_seen_at is written at most this often: one small write a minute per open
# dashboard instead of one per request. Idle timeouts must be longer than this.
SESSION_TOUCH_S = 60.0
# Ended sessions and old failed sign-ins are kept this long (for "where am I signed in" and
# rate-limit windows), then pruned by the writes that add new ones.
KEEP_ENDED_S = 86400.0
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+")


# --- what the store returns ---------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A dashboard user (never with the password hash). Epoch seconds."""

    id: str
    email: str
    name: str | None
    created_at: float
    password_changed_at: float
    disabled: bool


@dataclass(frozen=True)
class Membership:
    """A user's place in one organisation."""

    user_id: str
    org_id: str
    org_name: str
    role: Role
    created_at: float


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser, in one organisation; ``role`` is the membership's role now."""

    id: str
    user_id: str
    org_id: str
    org_name: str
    role: Role
    email: str
    user_name: str | None
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str | None
    address: str | None


@dataclass(frozen=True)
class IssuedSession:
    """A new session: ``secret`` goes in the cookie and is never stored (only its SHA-256)."""

    id: str
    secret: str


@dataclass(frozen=True)
class Invitation:
    """An invitation to join ``org_id`` with ``role``. ``as_of`` is the store's clock when it
    was read: :attr:`state` is as of then (so every store tells "expired" the same way)."""

    id: str
    org_id: str
    org_name: str
    email: str
    role: Role
    invited_by: str | None  # a user id; None: made on the command line
    created_at: float
    expires_at: float
    accepted_at: float | None
    revoked_at: float | None
    as_of: float

    @property
    def state(self) -> InvitationState:
        return invitation_state(self.accepted_at, self.revoked_at, self.expires_at, self.as_of)


@dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation: ``secret`` goes in the link (``/invite/<secret>``) and is shown once."""

    invitation: Invitation
    secret: str


# --- the rules (pure: the SQL store and the fake both call these) -----------------------------


def normalise_email(value: str) -> str:
    """The stored form of an email address (stripped, lower-case) after a basic shape check;
    RequestInvalid in one sentence otherwise. ``admin@localhost`` is an address."""
    email = value.strip().lower()
    if not email:
        raise RequestInvalid("the email address must not be empty")
    if len(email) > EMAIL_MAX:
        raise RequestInvalid(f"the email address must be at most {EMAIL_MAX} characters")
    if CONTROL_CHARACTERS.search(email) or not _EMAIL_SHAPE.fullmatch(email):
        raise RequestInvalid("the email address must look like name@example.com")
    return email


def parse_user_role(value: str) -> Role:
    """``value`` as a role a person may have (``worker`` is for machines only)."""
    for role in USER_ROLES:
        if role == value:
            return role
    raise RequestInvalid(f"role must be one of {', '.join(USER_ROLES)}, not {value!r}")


def stronger_role(a: Role, b: Role) -> Role:
    """The role that includes the other (accepting an invitation never demotes anyone)."""
    return a if USER_ROLES.index(a) >= USER_ROLES.index(b) else b


def user_name(value: str | None) -> str | None:
    """A display name: blank means none; otherwise the rules of names (:func:`check_label`)."""
    if value is None or not value.strip():
        return None
    return check_label("name", value)


def check_password_hash(value: str) -> str:
    """Guard against storing something that is not an encoded hash (a programming error)."""
    if not value.startswith("$") or len(value) > PASSWORD_HASH_MAX:
        raise ValueError("the store takes an encoded password hash, never a password")
    return value


def check_lifetime(seconds: float) -> float:
    if not seconds > 0:
        raise RequestInvalid(f"the lifetime must be more than 0 seconds, not {seconds}")
    return float(seconds)


def clipped(value: str | None, size: int) -> str | None:
    """Free text from request headers, without control characters, cut to its column."""
    if value is None:
        return None
    return CONTROL_CHARACTERS.sub("", value)[:size] or None


def failure_key(key: str) -> str:
    """A rate-limit key as stored (``address:<ip>``, ``account:<email>``), cut to its column."""
    return key[:FAILURE_KEY_MAX]


def new_secret() -> str:
    """A session or invitation secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def session_live(
    revoked_at: float | None,
    expires_at: float,
    last_seen_at: float,
    now: float,
    idle_seconds: float | None,
) -> bool:
    """Whether a session still signs its browser in at ``now`` (store time): not revoked, not
    past its lifetime, and (when ``idle_seconds`` is given) seen within that."""
    if revoked_at is not None or now >= expires_at:
        return False
    return idle_seconds is None or now - last_seen_at < idle_seconds


def needs_touch(last_seen_at: float, now: float) -> bool:
    """Whether a request at ``now`` should write the session's ``last_seen_at``."""
    return now - last_seen_at >= SESSION_TOUCH_S


def invitation_state(
    accepted_at: float | None, revoked_at: float | None, expires_at: float, now: float
) -> InvitationState:
    if revoked_at is not None:
        return "revoked"
    if accepted_at is not None:
        return "accepted"
    return "expired" if now >= expires_at else "pending"
