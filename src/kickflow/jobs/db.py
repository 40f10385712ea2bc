"""Engines for SQLite (WAL, ``BEGIN IMMEDIATE`` for writes) and PostgreSQL, and the adapter
boundary where driver errors become :class:`~kickflow.errors.DatabaseError`."""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url

from kickflow.errors import DatabaseError

SQLITE_BUSY_TIMEOUT_S = 30.0


def make_engine(url: str, *, idle_tx_timeout_s: float = 60.0) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and explicit BEGIN modes.

    On PostgreSQL a session left idle inside a transaction (a frozen or wedged process) is
    ended by the server after ``idle_tx_timeout_s``, so its row locks cannot hide a stuck job
    from the reaper for longer than that. SQLite cannot do this: a process frozen while it
    holds the write lock stops every writer until it resumes or dies (use PostgreSQL when
    workers run on several machines).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    if parsed.get_backend_name() == "postgresql":
        options = f"-c idle_in_transaction_session_timeout={int(idle_tx_timeout_s * 1000)}"
        return sa.create_engine(
            url,
            pool_size=4,
            max_overflow=8,
            pool_recycle=1800,
            connect_args={"options": options},
        )
    raise DatabaseError(f"unsupported database URL {parsed.render_as_string()!r}")


class _WriterQueue:
    """Writers to one SQLite file line up on a kernel file lock (``flock``) before
    ``BEGIN IMMEDIATE``: a waiter wakes the moment the lock is free, instead of SQLite's
    busy handler sleeping up to 100 ms between retries. The kernel drops the lock of a
    killed process; a frozen one holds it, as it would hold SQLite's own lock."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}.writer-lock"
        self.thread_lock = threading.Lock()
        self.fd: int | None = None
        self.pid = 0
        self.local = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        if getattr(self.local, "depth", 0):  # nested in this thread: already at the front
            yield
            return
        with self.thread_lock:
            if self.fd is None or self.pid != os.getpid():
                self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.local.depth = 1
            try:
                yield
            finally:
                self.local.depth = 0
                fcntl.flock(self.fd, fcntl.LOCK_UN)


_WRITER_QUEUES: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


def _sqlite_engine(url: str, database: str | None) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        _WRITER_QUEUES[engine] = _WriterQueue(database)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can take the lock up front.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("kickflow_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def translated() -> Iterator[None]:
    """Turn driver and SQLAlchemy errors into DatabaseError (transient), keeping the cause."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseError(f"database error: {detail}") from exc


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction (``BEGIN IMMEDIATE`` on SQLite, after the writer queue)."""
    queue = _WRITER_QUEUES.get(engine)
    with translated(), queue.held() if queue else nullcontext(), engine.connect() as conn:
        conn.execution_options(kickflow_write=True)
        with conn.begin():
            yield conn


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction."""
    with translated(), engine.connect() as conn, conn.begin():
        yield conn
