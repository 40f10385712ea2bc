"""Organisations and API tokens. Tokens are random, shown once and stored as SHA-256 only."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.errors import OrganisationExists, OrganisationNotFound, TokenNotFound
from kickflow.jobs.schema import api_tokens, organisations
from kickflow.jobs.sqlfuncs import db_now

# In order: each role includes the ones before it. ``operator`` is for the people who run the
# service: it may act on every organisation where a route offers that explicitly.
Role = Literal["viewer", "member", "admin", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "member", "admin", "operator")
TOKEN_PREFIX = "kf_"  # noqa: S105 - a visible prefix, not a secret
# ``last_used_at`` is written at most this often per token.
LAST_USED_RESOLUTION_S = 60.0


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's organisation and role."""

    org_id: str
    role: Role
    token_id: str
    # Seconds since the token was last marked used (database time); None: never.
    last_used_age: float | None = None

    def may(self, role: Role) -> bool:
        """Whether this caller's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``secret`` is shown once and never stored."""

    id: str
    org_id: str
    role: Role
    secret: str


def hash_token(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_org(conn: Connection, name: str) -> str:
    """Create an organisation; returns its id."""
    if find_org(conn, name) is not None:
        raise OrganisationExists(f"organisation {name!r} already exists")
    org_id = str(uuid.uuid4())
    conn.execute(sa.insert(organisations).values(id=org_id, name=name, created_at=db_now()))
    return org_id


def find_org(conn: Connection, name_or_id: str) -> str | None:
    """The id of the organisation with that name or id."""
    cond = sa.or_(organisations.c.name == name_or_id, organisations.c.id == name_or_id)
    return conn.execute(sa.select(organisations.c.id).where(cond)).scalar()


def require_org(conn: Connection, name_or_id: str) -> str:
    """Like :func:`find_org`, raising OrganisationNotFound."""
    org_id = find_org(conn, name_or_id)
    if org_id is None:
        raise OrganisationNotFound(
            f"no organisation {name_or_id!r}: create it with `kickflow admin create-org`"
        )
    return org_id


def create_token(conn: Connection, org_id: str, role: Role, name: str | None = None) -> IssuedToken:
    """Issue a token for ``org_id`` with ``role``."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = str(uuid.uuid4())
    conn.execute(
        sa.insert(api_tokens).values(
            id=token_id,
            org_id=org_id,
            name=name,
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
    return Principal(row.org_id, row.role, row.id, last_used_age)


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
