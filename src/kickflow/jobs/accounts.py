"""Organisations and API tokens. Tokens are random, shown once and stored as SHA-256 only.

Roles: ``viewer`` < ``member`` < ``admin`` < ``operator`` are the user roles, each including the
ones before it (``operator`` runs the service: it may act on every organisation where a route
offers that). ``worker`` stands apart: a worker token may only call the worker API, and no user
role check ever lets it through (:meth:`Principal.may`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.errors import (
    OrganisationExists,
    OrganisationNotFound,
    RequestInvalid,
    TokenNotFound,
)
from kickflow.jobs.schema import api_tokens, organisations
from kickflow.jobs.sqlfuncs import db_now

Role = Literal["viewer", "member", "admin", "operator", "worker"]
# In order: each user role includes the ones before it.
USER_ROLES: tuple[Role, ...] = ("viewer", "member", "admin", "operator")
WORKER_ROLE: Role = "worker"
ROLES: tuple[Role, ...] = (*USER_ROLES, WORKER_ROLE)
TOKEN_PREFIX = "kf_"  # noqa: S105 - a visible prefix, not a secret
# ``last_used_at`` is written at most this often per token.
LAST_USED_RESOLUTION_S = 60.0
LOCAL_ORG = "local"
NAME_MAX = 200  # the column's size
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's organisation and role."""

    org_id: str
    role: Role
    token_id: str
    # Seconds since the token was last marked used (database time); None: never.
    last_used_age: float | None = None

    def may(self, role: Role) -> bool:
        """Whether this caller's role includes ``role``. ``worker`` includes only itself and
        is included in no user role, so a worker token never passes a user role check."""
        if WORKER_ROLE in (self.role, role):
            return self.role == role
        return USER_ROLES.index(self.role) >= USER_ROLES.index(role)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def is_worker(self) -> bool:
        return self.role == WORKER_ROLE


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``secret`` is shown once and never stored."""

    id: str
    org_id: str
    role: Role
    secret: str


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a stored token (never its secret or hash). Epoch seconds."""

    id: str
    org_id: str
    name: str | None
    role: Role
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def hash_token(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_role(value: str) -> Role:
    """``value`` as a role; RequestInvalid naming the valid ones otherwise."""
    for role in ROLES:
        if role == value:
            return role
    raise RequestInvalid(f"role must be one of {', '.join(ROLES)}, not {value!r}")


def check_label(what: str, value: str) -> str:
    """A name (organisation, token label) without surrounding blanks: non-empty, at most
    NAME_MAX characters, no control characters; RequestInvalid saying which rule failed."""
    text = value.strip()
    if not text:
        raise RequestInvalid(f"{what} must not be empty")
    if len(text) > NAME_MAX:
        raise RequestInvalid(f"{what} must be at most {NAME_MAX} characters, not {len(text)}")
    if CONTROL_CHARACTERS.search(text):
        raise RequestInvalid(f"{what} must not contain control characters")
    return text


# --- organisations ------------------------------------------------------------------------------


def org_id_by_name(conn: Connection, name: str) -> str | None:
    found = conn.execute(sa.select(organisations.c.id).where(organisations.c.name == name)).scalar()
    return None if found is None else str(found)


def find_org(conn: Connection, name_or_id: str) -> str | None:
    """The id of the organisation with that name or id."""
    cond = sa.or_(organisations.c.name == name_or_id, organisations.c.id == name_or_id)
    found = conn.execute(sa.select(organisations.c.id).where(cond)).scalar()
    return None if found is None else str(found)


def require_org(conn: Connection, name_or_id: str) -> str:
    """Like :func:`find_org`, raising OrganisationNotFound."""
    org_id = find_org(conn, name_or_id)
    if org_id is None:
        raise OrganisationNotFound(
            f"no organisation {name_or_id!r}: create it with `kickflow admin create-org`"
        )
    return org_id


def create_org(conn: Connection, name: str, max_running: int | None = None) -> str:
    """Create an organisation; returns its id. The one set of rules for every caller: the
    name as :func:`check_label` takes it, not the name or id of an existing organisation
    (OrganisationExists), and a running-jobs cap of at least 0 or None (the default)."""
    name = check_label("organisation name", name)
    if max_running is not None and max_running < 0:
        raise RequestInvalid(f"max_running must be 0 or more, not {max_running}")
    if find_org(conn, name) is not None:
        raise OrganisationExists(f"organisation {name!r} already exists")
    org_id = str(uuid.uuid4())
    conn.execute(
        sa.insert(organisations).values(
            id=org_id, name=name, max_running=max_running, created_at=db_now()
        )
    )
    return org_id


def ensure_org(conn: Connection, name: str) -> str:
    """The id of organisation ``name``, created (by :func:`create_org`) if missing."""
    return org_id_by_name(conn, name) or create_org(conn, name)


def set_org_cap(conn: Connection, org_id: str, max_running: int | None) -> None:
    conn.execute(
        sa.update(organisations).where(organisations.c.id == org_id).values(max_running=max_running)
    )


# --- tokens -------------------------------------------------------------------------------------


def create_token(conn: Connection, org_id: str, role: Role, name: str | None = None) -> IssuedToken:
    """Issue a token for ``org_id`` with ``role``; OrganisationNotFound for an unknown org."""
    role = parse_role(role)
    label = None if name is None else check_label("token name", name)
    org_id = require_org(conn, org_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = str(uuid.uuid4())
    conn.execute(
        sa.insert(api_tokens).values(
            id=token_id,
            org_id=org_id,
            name=label,
            role=role,
            token_sha256=hash_token(secret),
            created_at=db_now(),
        )
    )
    return IssuedToken(token_id, org_id, role, secret)


def revoke_token(conn: Connection, token_id_or_secret: str) -> str:
    """Revoke a token given its id or the token itself; returns its id."""
    key = token_id_or_secret.strip()
    cond = sa.or_(api_tokens.c.id == key, api_tokens.c.token_sha256 == hash_token(key))
    token_id = conn.execute(sa.select(api_tokens.c.id).where(cond)).scalar()
    if token_id is None:
        raise TokenNotFound(f"no API token {key[:12]}…")
    conn.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=db_now())
    )
    return str(token_id)


def authenticate(conn: Connection, secret: str) -> Principal | None:
    """The caller behind ``secret``, or None for an unknown or revoked token."""
    age = db_now() - api_tokens.c.last_used_at
    row = conn.execute(
        sa.select(api_tokens.c.id, api_tokens.c.org_id, api_tokens.c.role, age.label("age")).where(
            api_tokens.c.token_sha256 == hash_token(secret), api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    last_used_age = None if row.age is None else float(row.age)
    return Principal(str(row.org_id), parse_role(row.role), str(row.id), last_used_age)


def mark_used(conn: Connection, token_id: str) -> bool:
    """Set ``last_used_at`` to now unless it was set within LAST_USED_RESOLUTION_S; whether
    it was written (conditional, so concurrent requests write once)."""
    stale = sa.or_(
        api_tokens.c.last_used_at.is_(None),
        api_tokens.c.last_used_at < db_now() - LAST_USED_RESOLUTION_S,
    )
    done = conn.execute(
        sa.update(api_tokens)
        .where(api_tokens.c.id == token_id, stale)
        .values(last_used_at=db_now())
    )
    return bool(done.rowcount)


def list_tokens(conn: Connection, org_id: str) -> list[TokenInfo]:
    """The organisation's tokens, revoked ones included, oldest first."""
    stmt = sa.select(
        api_tokens.c.id,
        api_tokens.c.org_id,
        api_tokens.c.name,
        api_tokens.c.role,
        api_tokens.c.created_at,
        api_tokens.c.last_used_at,
        api_tokens.c.revoked_at,
    ).where(api_tokens.c.org_id == org_id)
    rows = conn.execute(stmt.order_by(api_tokens.c.created_at, api_tokens.c.id)).mappings()
    return [_token_info(r) for r in rows]


def _token_info(row: Any) -> TokenInfo:
    return TokenInfo(
        str(row["id"]),
        str(row["org_id"]),
        row["name"],
        parse_role(row["role"]),
        float(row["created_at"]),
        None if row["last_used_at"] is None else float(row["last_used_at"]),
        None if row["revoked_at"] is None else float(row["revoked_at"]),
    )


def has_token(conn: Connection, org_id: str) -> bool:
    """Whether the organisation has ever had a token (revoked ones count: revoking every
    token must not make ``kickflow serve`` print a fresh admin token)."""
    stmt = sa.select(api_tokens.c.id).where(api_tokens.c.org_id == org_id).limit(1)
    return conn.execute(stmt).first() is not None
