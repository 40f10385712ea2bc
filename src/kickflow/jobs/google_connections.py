"""Google connections: each user's (or an organisation's) link to a Google account, with its
OAuth tokens as SecretBox tokens. The store never sees a plaintext token and never decrypts:
:mod:`kickflow.integrations.google.tokens` encrypts before it saves and decrypts after it reads.

Every read and write names the organisation: a connection id of another organisation finds
nothing, so a Drive job can only ever use a token of the organisation that submitted it.
Only the ops views (:meth:`GoogleConnectionOperations.google_connection_problems`) and key
rotation (:meth:`GoogleConnectionOperations.google_connection_keys`) look across
organisations, and neither returns tokens.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from kickflow.errors import RequestInvalid
from kickflow.integrations.google.types import ConnectionSecrets, GoogleConnection
from kickflow.jobs.schema import google_connections as gc
from kickflow.jobs.sqlfuncs import db_now

T = TypeVar("T")
USER_ID_MAX = 36  # the column's size: a user id, or ORG_OWNER ("")
EMAIL_MAX = 254
STATUS_OK: Literal["ok"] = "ok"
STATUS_FAILED: Literal["refresh_failed"] = "refresh_failed"
ERROR_MAX = 500  # what is kept of a failure's reason


def check_identity(user_id: str, email: str | None) -> None:
    """RequestInvalid for a user id or email the columns cannot hold (shared with the fake,
    so both stores refuse the same values)."""
    if len(user_id) > USER_ID_MAX:
        raise RequestInvalid(f"user id: at most {USER_ID_MAX} characters")
    if email is not None and len(email) > EMAIL_MAX:
        raise RequestInvalid(f"email: at most {EMAIL_MAX} characters")


def joined_scopes(scopes: Sequence[str]) -> str:
    """Scopes as one column value, space-separated as Google spells them, each once."""
    return " ".join(dict.fromkeys(s for s in scopes if s))


def split_scopes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def short_error(error: str) -> str:
    """A failure's reason as kept on the row: one line, at most ERROR_MAX characters."""
    return " ".join(error.split())[:ERROR_MAX]


def from_row(row: Any) -> GoogleConnection:
    status: Literal["ok", "refresh_failed"] = (
        STATUS_FAILED if row.status == STATUS_FAILED else STATUS_OK
    )
    expires = row.access_expires_at
    return GoogleConnection(
        id=str(row.id),
        org_id=str(row.org_id),
        user_id=str(row.user_id),
        email=row.email,
        scopes=split_scopes(str(row.scopes)),
        status=status,
        last_error=row.last_error,
        access_expires_at=None if expires is None else float(expires),
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
    )


PUBLIC = [c for c in gc.c if not c.name.endswith("_enc")]  # a row without its tokens


def _in_org(org_id: str, connection_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(gc.c.org_id == org_id, gc.c.id == connection_id)


def save(
    conn: Connection,
    org_id: str,
    user_id: str,
    email: str | None,
    scopes: Sequence[str],
    secrets: ConnectionSecrets,
    access_expires_at: float | None,
) -> GoogleConnection:
    """Insert, or on (org, user) update in place: one statement, so a reconnect keeps the id
    and two connects at once cannot make two rows."""
    now = db_now()
    changed = {
        "email": email,
        "scopes": joined_scopes(scopes),
        "refresh_token_enc": secrets.refresh_token,
        "access_token_enc": secrets.access_token,
        "access_expires_at": access_expires_at,
        "status": STATUS_OK,
        "last_error": None,
        "updated_at": now,
    }
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(gc).values(
        id=str(uuid.uuid4()), org_id=org_id, user_id=user_id, created_at=now, **changed
    )
    stmt = stmt.on_conflict_do_update(index_elements=[gc.c.org_id, gc.c.user_id], set_=changed)
    conn.execute(stmt)
    found = by_user(conn, org_id, user_id)
    assert found is not None  # just written, in this transaction
    return found


def by_user(conn: Connection, org_id: str, user_id: str) -> GoogleConnection | None:
    where = sa.and_(gc.c.org_id == org_id, gc.c.user_id == user_id)
    row = conn.execute(sa.select(*PUBLIC).where(where)).first()
    return None if row is None else from_row(row)


def by_id(conn: Connection, org_id: str, connection_id: str) -> GoogleConnection | None:
    row = conn.execute(sa.select(*PUBLIC).where(_in_org(org_id, connection_id))).first()
    return None if row is None else from_row(row)


def secrets_of(conn: Connection, org_id: str, connection_id: str) -> ConnectionSecrets | None:
    stmt = sa.select(gc.c.refresh_token_enc, gc.c.access_token_enc)
    row = conn.execute(stmt.where(_in_org(org_id, connection_id))).first()
    return None if row is None else ConnectionSecrets(row.refresh_token_enc, row.access_token_enc)


def update(conn: Connection, org_id: str, connection_id: str, **values: Any) -> None:
    stmt = sa.update(gc).where(_in_org(org_id, connection_id))
    conn.execute(stmt.values(updated_at=db_now(), **values))


def delete(conn: Connection, org_id: str, connection_id: str) -> bool:
    return bool(conn.execute(sa.delete(gc).where(_in_org(org_id, connection_id))).rowcount)


def listed(conn: Connection, org_id: str) -> list[GoogleConnection]:
    stmt = sa.select(*PUBLIC).where(gc.c.org_id == org_id).order_by(gc.c.user_id, gc.c.id)
    return [from_row(r) for r in conn.execute(stmt)]


def problems(conn: Connection) -> list[GoogleConnection]:
    stmt = sa.select(*PUBLIC).where(gc.c.status != STATUS_OK)
    return [from_row(r) for r in conn.execute(stmt.order_by(gc.c.org_id, gc.c.user_id))]


def keys(conn: Connection) -> list[tuple[str, str]]:
    stmt = sa.select(gc.c.org_id, gc.c.id).order_by(gc.c.org_id, gc.c.id)
    return [(str(r.org_id), str(r.id)) for r in conn.execute(stmt)]


class _Transactions(Protocol):
    def _read(self, fn: Callable[[Connection], T]) -> T: ...
    def _write(self, fn: Callable[[Connection], T]) -> T: ...


class GoogleConnectionOperations:
    """The Google-connection methods of :class:`~kickflow.jobs.store.SqlJobStore` (see
    :class:`~kickflow.jobs.port.GoogleConnectionsPort` for what each promises)."""

    def save_google_connection(
        self: _Transactions,
        org_id: str,
        user_id: str,
        *,
        email: str | None,
        scopes: Sequence[str],
        secrets: ConnectionSecrets,
        access_expires_at: float | None,
    ) -> GoogleConnection:
        check_identity(user_id, email)
        return self._write(
            lambda c: save(c, org_id, user_id, email, scopes, secrets, access_expires_at)
        )

    def google_connection(
        self: _Transactions, org_id: str, user_id: str
    ) -> GoogleConnection | None:
        return self._read(lambda c: by_user(c, org_id, user_id))

    def google_connection_by_id(
        self: _Transactions, org_id: str, connection_id: str
    ) -> GoogleConnection | None:
        return self._read(lambda c: by_id(c, org_id, connection_id))

    def google_connection_secrets(
        self: _Transactions, org_id: str, connection_id: str
    ) -> ConnectionSecrets | None:
        return self._read(lambda c: secrets_of(c, org_id, connection_id))

    def update_google_access(
        self: _Transactions, org_id: str, connection_id: str, access_token: str, expires_at: float
    ) -> None:
        self._write(
            lambda c: update(
                c,
                org_id,
                connection_id,
                access_token_enc=access_token,
                access_expires_at=expires_at,
            )
        )

    def mark_google_connection_failed(
        self: _Transactions, org_id: str, connection_id: str, error: str
    ) -> None:
        self._write(
            lambda c: update(
                c,
                org_id,
                connection_id,
                status=STATUS_FAILED,
                last_error=short_error(error),
                access_token_enc=None,
                access_expires_at=None,
            )
        )

    def delete_google_connection(self: _Transactions, org_id: str, connection_id: str) -> bool:
        return self._write(lambda c: delete(c, org_id, connection_id))

    def list_google_connections(self: _Transactions, org_id: str) -> list[GoogleConnection]:
        return self._read(lambda c: listed(c, org_id))

    def google_connection_problems(self: _Transactions) -> list[GoogleConnection]:
        return self._read(problems)

    def google_connection_keys(self: _Transactions) -> list[tuple[str, str]]:
        return self._read(keys)

    def replace_google_secrets(
        self: _Transactions, org_id: str, connection_id: str, secrets: ConnectionSecrets
    ) -> None:
        stmt = (
            sa.update(gc)
            .where(_in_org(org_id, connection_id))
            .values(refresh_token_enc=secrets.refresh_token, access_token_enc=secrets.access_token)
        )  # updated_at stays: re-encrypting changes nothing a person sees
        self._write(lambda c: c.execute(stmt))
