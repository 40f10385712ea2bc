"""Organisation profiles: custom delivery specs an admin uploads as TOML, stored per
organisation by name. The store keeps the text as uploaded; parsing and the rules of a valid
profile belong to :mod:`kickflow.profiles` (the caller validates before it saves)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from kickflow.errors import RequestInvalid
from kickflow.jobs.schema import org_profiles
from kickflow.jobs.sqlfuncs import db_now

T = TypeVar("T")
NAME_MAX = 100  # the column's size
# A slug: what a select, a URL path and an API field carry without escaping.
NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


@dataclass(frozen=True)
class OrgProfile:
    """One stored custom profile: its TOML source as uploaded, and who changed it last."""

    org_id: str
    name: str
    source: str
    created_at: float
    updated_at: float
    updated_by: str | None  # a user id; None when not saved by a person

    @classmethod
    def from_row(cls, row: Any) -> OrgProfile:
        return cls(
            str(row.org_id),
            str(row.name),
            str(row.source),
            float(row.created_at),
            float(row.updated_at),
            row.updated_by,
        )


def check_name(name: str) -> str:
    """The name if it is a lower-case slug of at most 100 characters; RequestInvalid else."""
    if len(name) > NAME_MAX:
        raise RequestInvalid(f"profile name: at most {NAME_MAX} characters")
    if not NAME_PATTERN.fullmatch(name):
        raise RequestInvalid(
            "profile name: use lower-case letters, digits and hyphens "
            "(starting and ending with a letter or digit), e.g. netflix-stereo"
        )
    return name


def save(conn: Connection, org_id: str, name: str, source: str, user_id: str | None) -> OrgProfile:
    """Insert or replace (one statement, so two admins saving at once cannot collide)."""
    now = db_now()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(org_profiles).values(
        org_id=org_id, name=name, source=source, created_at=now, updated_at=now, updated_by=user_id
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[org_profiles.c.org_id, org_profiles.c.name],
        set_={"source": source, "updated_at": now, "updated_by": user_id},
    )
    conn.execute(stmt)
    found = get(conn, org_id, name)
    assert found is not None  # just written, in this transaction
    return found


def get(conn: Connection, org_id: str, name: str) -> OrgProfile | None:
    where = sa.and_(org_profiles.c.org_id == org_id, org_profiles.c.name == name)
    row = conn.execute(sa.select(org_profiles).where(where)).first()
    return None if row is None else OrgProfile.from_row(row)


def listed(conn: Connection, org_id: str) -> list[OrgProfile]:
    stmt = sa.select(org_profiles).where(org_profiles.c.org_id == org_id)
    return [OrgProfile.from_row(r) for r in conn.execute(stmt.order_by(org_profiles.c.name))]


def delete(conn: Connection, org_id: str, name: str) -> bool:
    where = sa.and_(org_profiles.c.org_id == org_id, org_profiles.c.name == name)
    return bool(conn.execute(sa.delete(org_profiles).where(where)).rowcount)


class _Transactions(Protocol):
    def _read(self, fn: Callable[[Connection], T]) -> T: ...
    def _write(self, fn: Callable[[Connection], T]) -> T: ...


class OrgProfileOperations:
    """The organisation-profile methods of :class:`~kickflow.jobs.store.SqlJobStore`."""

    def save_org_profile(
        self: _Transactions, org_id: str, name: str, source: str, user_id: str | None
    ) -> OrgProfile:
        """Store (or replace) the organisation's profile ``name``; RequestInvalid for a name
        that is not a slug. Jobs already submitted keep their own copy of the text."""
        check_name(name)
        return self._write(lambda c: save(c, org_id, name, source, user_id))

    def org_profiles(self: _Transactions, org_id: str) -> list[OrgProfile]:
        """The organisation's profiles, by name."""
        return self._read(lambda c: listed(c, org_id))

    def org_profile(self: _Transactions, org_id: str, name: str) -> OrgProfile | None:
        """The organisation's profile ``name``, or None (another organisation's is None too)."""
        return self._read(lambda c: get(c, org_id, name))

    def delete_org_profile(self: _Transactions, org_id: str, name: str) -> bool:
        """Delete the organisation's profile ``name``; whether there was one."""
        return self._write(lambda c: delete(c, org_id, name))
