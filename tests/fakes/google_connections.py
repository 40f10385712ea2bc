"""Google connections in the fake store, with the rules of
:mod:`kickflow.jobs.google_connections` (the same identity checks, scope joining and error
shortening; an upsert on (organisation, user) that keeps the id; every call scoped by
organisation; an unknown organisation refused like a foreign key)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence

from kickflow.errors import DatabaseError
from kickflow.integrations.google.types import ConnectionSecrets, GoogleConnection
from kickflow.jobs.google_connections import (
    STATUS_FAILED,
    STATUS_OK,
    check_identity,
    joined_scopes,
    short_error,
    split_scopes,
)
from tests.fakes.base import FakeStoreBase


class FakeGoogleConnections(FakeStoreBase):
    """Connections by id (part of :class:`~tests.fakes.FakeJobStore`)."""

    def _connection(
        self, org_id: str, connection_id: str
    ) -> tuple[GoogleConnection, ConnectionSecrets] | None:
        found = self._t.google_connections.get(connection_id)
        return found if found is not None and found[0].org_id == org_id else None

    def _by_user(self, org_id: str, user_id: str) -> GoogleConnection | None:
        for row, _ in self._t.google_connections.values():
            if row.org_id == org_id and row.user_id == user_id:
                return row
        return None

    def save_google_connection(
        self,
        org_id: str,
        user_id: str,
        *,
        email: str | None,
        scopes: Sequence[str],
        secrets: ConnectionSecrets,
        access_expires_at: float | None,
    ) -> GoogleConnection:
        check_identity(user_id, email)
        with self._tx("save_google_connection", org_id, user_id, email) as now:
            if org_id not in self._t.orgs:
                raise DatabaseError("database error: FOREIGN KEY constraint failed (no org)")
            old = self._by_user(org_id, user_id)
            row = GoogleConnection(
                id=str(uuid.uuid4()) if old is None else old.id,
                org_id=org_id,
                user_id=user_id,
                email=email,
                scopes=split_scopes(joined_scopes(scopes)),
                status=STATUS_OK,
                last_error=None,
                access_expires_at=access_expires_at,
                created_at=now if old is None else old.created_at,
                updated_at=now,
            )
            self._t.google_connections[row.id] = (row, secrets)
            return row

    def google_connection(self, org_id: str, user_id: str) -> GoogleConnection | None:
        with self._tx("google_connection", org_id, user_id):
            return self._by_user(org_id, user_id)

    def google_connection_by_id(self, org_id: str, connection_id: str) -> GoogleConnection | None:
        with self._tx("google_connection_by_id", org_id, connection_id):
            found = self._connection(org_id, connection_id)
            return None if found is None else found[0]

    def google_connection_secrets(
        self, org_id: str, connection_id: str
    ) -> ConnectionSecrets | None:
        with self._tx("google_connection_secrets", org_id, connection_id):
            found = self._connection(org_id, connection_id)
            return None if found is None else found[1]

    def _change(
        self,
        org_id: str,
        connection_id: str,
        now: float,
        secrets: ConnectionSecrets | None = None,
        **values: object,
    ) -> None:
        found = self._connection(org_id, connection_id)
        if found is None:
            return
        row, old_secrets = found
        row = dataclasses.replace(row, updated_at=now, **values)  # type: ignore[arg-type]
        self._t.google_connections[connection_id] = (row, secrets or old_secrets)

    def update_google_access(
        self, org_id: str, connection_id: str, access_token: str, expires_at: float
    ) -> None:
        with self._tx("update_google_access", org_id, connection_id) as now:
            found = self._connection(org_id, connection_id)
            if found is not None:
                renewed = dataclasses.replace(found[1], access_token=access_token)
                self._change(org_id, connection_id, now, renewed, access_expires_at=expires_at)

    def mark_google_connection_failed(self, org_id: str, connection_id: str, error: str) -> None:
        with self._tx("mark_google_connection_failed", org_id, connection_id, error) as now:
            found = self._connection(org_id, connection_id)
            if found is not None:
                dropped = dataclasses.replace(found[1], access_token=None)
                self._change(
                    org_id,
                    connection_id,
                    now,
                    dropped,
                    status=STATUS_FAILED,
                    last_error=short_error(error),
                    access_expires_at=None,
                )

    def delete_google_connection(self, org_id: str, connection_id: str) -> bool:
        with self._tx("delete_google_connection", org_id, connection_id):
            if self._connection(org_id, connection_id) is None:
                return False
            del self._t.google_connections[connection_id]
            return True

    def list_google_connections(self, org_id: str) -> list[GoogleConnection]:
        with self._tx("list_google_connections", org_id):
            mine = [r for r, _ in self._t.google_connections.values() if r.org_id == org_id]
            return sorted(mine, key=lambda r: (r.user_id, r.id))

    def google_connection_problems(self) -> list[GoogleConnection]:
        with self._tx("google_connection_problems"):
            rows = [r for r, _ in self._t.google_connections.values() if r.status != STATUS_OK]
            return sorted(rows, key=lambda r: (r.org_id, r.user_id))

    def google_connection_keys(self) -> list[tuple[str, str]]:
        with self._tx("google_connection_keys"):
            return sorted((r.org_id, r.id) for r, _ in self._t.google_connections.values())

    def replace_google_secrets(
        self, org_id: str, connection_id: str, secrets: ConnectionSecrets
    ) -> None:
        with self._tx("replace_google_secrets", org_id, connection_id):
            found = self._connection(org_id, connection_id)
            if found is not None:
                self._t.google_connections[connection_id] = (found[0], secrets)
