"""What only the SQL store can show about people (the rest is the contract,
``tests/contract/people.py``): secrets are kept as SHA-256 only, and the per-request session
read is one indexed statement, with a write at most once a minute."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from kickflow.jobs import SqlJobStore
from kickflow.jobs.accounts import hash_token
from kickflow.jobs.db import read_tx, write_tx
from kickflow.jobs.people import SESSION_TOUCH_S
from kickflow.jobs.schema import invitations, users, web_sessions

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")


@contextmanager
def statements(store: SqlJobStore) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) the store sends meanwhile, transaction
    control left out."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, sql: str, params: Any, *_: object) -> None:
        if sql.lstrip().upper().startswith(DML):
            seen.append((sql, params))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def _signed_in(store: SqlJobStore) -> tuple[str, str]:
    org = store.ensure_org()
    user = store.create_user("ann@example.com", HASH)
    store.set_membership(user.id, org, "member")
    issued = store.create_session(user.id, org, 3600)
    return issued.id, issued.secret


def test_only_hashes_of_secrets_are_stored(store: SqlJobStore) -> None:
    _, secret = _signed_in(store)
    invited = store.create_invitation(store.ensure_org(), "bob@example.com", "viewer", None, 60)
    with read_tx(store.engine) as conn:
        rows = [
            *conn.execute(sa.select(web_sessions)).mappings(),
            *conn.execute(sa.select(invitations)).mappings(),
        ]
        stored_hash = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    text = repr(rows)
    assert secret not in text and invited.secret not in text
    assert hash_token(secret) in text and hash_token(invited.secret) in text
    assert stored_hash == HASH


def test_a_request_reads_its_session_in_one_statement(store: SqlJobStore) -> None:
    session_id, secret = _signed_in(store)
    with statements(store) as seen:
        assert store.session_by_secret(secret, 1800) is not None
    assert len(seen) == 1 and seen[0][0].lstrip().upper().startswith("SELECT"), seen
    with write_tx(store.engine) as conn:
        conn.execute(
            sa.update(web_sessions)
            .where(web_sessions.c.id == session_id)
            .values(last_seen_at=web_sessions.c.last_seen_at - SESSION_TOUCH_S - 1)
        )
    with statements(store) as seen:
        assert store.session_by_secret(secret, 1800) is not None
        assert store.session_by_secret(secret, 1800) is not None
    kinds = [sql.lstrip().split()[0].upper() for sql, _ in seen]
    assert kinds == ["SELECT", "UPDATE", "SELECT"], "the minute's write once, then reads only"


def test_the_session_read_uses_indexes_only(store: SqlJobStore) -> None:
    """Every table of the join is reached through an index (SQLite: SEARCH, never SCAN;
    PostgreSQL, told to avoid sequential scans where it can: none left)."""
    _, secret = _signed_in(store)
    with statements(store) as seen:
        store.session_by_secret(secret, 1800)
    [(sql, params)] = seen
    sqlite = store.engine.dialect.name == "sqlite"
    with read_tx(store.engine) as conn:
        if not sqlite:  # tiny tables: the planner would rather scan; make it show its indexes
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
        plan = [str(row[-1]) for row in conn.exec_driver_sql(explain + sql, params)]
    if sqlite:
        assert plan and all(step.startswith("SEARCH") for step in plan), plan
    else:
        assert not [step for step in plan if "Seq Scan" in step], plan
