"""Rows of the people tables in the fake "database" (:mod:`tests.fakes.tables`): one frozen
dataclass per table, with the columns of :mod:`kickflow.jobs.schema` (hashes included, as
stored), so a test can look at or backdate a row as it would with an ``UPDATE``."""

from __future__ import annotations

from dataclasses import dataclass

from kickflow.jobs import Role


@dataclass(frozen=True)
class UserRow:
    id: str
    email: str
    name: str | None
    password_hash: str
    created_at: float
    password_changed_at: float
    disabled_at: float | None = None


@dataclass(frozen=True)
class MembershipRow:
    user_id: str
    org_id: str
    role: Role
    created_at: float


@dataclass(frozen=True)
class SessionRow:
    id: str
    user_id: str
    org_id: str
    secret_sha256: str
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str | None
    address: str | None
    revoked_at: float | None = None


@dataclass(frozen=True)
class InvitationRow:
    id: str
    org_id: str
    email: str
    role: Role
    secret_sha256: str
    invited_by: str | None
    created_at: float
    expires_at: float
    accepted_at: float | None = None
    accepted_by: str | None = None
    revoked_at: float | None = None


@dataclass(frozen=True)
class FailureRow:
    key: str
    at: float
