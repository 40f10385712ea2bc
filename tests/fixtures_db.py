"""Database fixtures (SQLite and PostgreSQL).

``db_url`` is parametrised over both backends: SQLite is a fresh migrated file per test;
PostgreSQL is one fresh database per test run (random name, created from the ``postgres``
database at 127.0.0.1:5432, dropped at the end), emptied before each test. When PostgreSQL is
unreachable its tests are skipped locally and fail when ``CI=true``. ``store`` is a migrated
:class:`kickflow.jobs.JobStore` on ``db_url`` with small, test-friendly timings
(``job_settings``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kickflow.config import Settings
from kickflow.jobs import JobStore, SqlJobStore
from kickflow.jobs.db import make_engine
from kickflow.jobs.migrate import upgrade

PG_HOST = os.environ.get("KICKFLOW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("KICKFLOW_TEST_PG_PORT", "5432"))
PG_USERS = ("postgres", "root")
TABLES = "job_events, jobs, api_tokens, workers, flags, organisations, users, sign_in_failures"


def _pg_admin_user() -> tuple[str | None, str]:
    last = ""
    for user in PG_USERS:
        try:
            with psycopg.connect(
                host=PG_HOST, port=PG_PORT, user=user, dbname="postgres", connect_timeout=3
            ):
                return user, ""
        except psycopg.Error as exc:
            last = str(exc).strip()
    return None, last


def _pg_unavailable(reason: str) -> None:
    message = f"PostgreSQL at {PG_HOST}:{PG_PORT} unreachable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(message)


def _admin(user: str, sql: str) -> None:
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=user, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped afterwards."""
    user, reason = _pg_admin_user()
    if user is None:
        _pg_unavailable(reason)
        return
    name = f"kickflow_test_{uuid.uuid4().hex[:12]}"
    _admin(user, f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        _admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "kickflow.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _empty_pg(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {TABLES} CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "kickflow.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database_url")
    _empty_pg(url)
    return url


@pytest.fixture
def job_settings(tmp_path: Path, db_url: str, media_dir: Path) -> Settings:
    """Settings with short leases and retries, data under the test's temp dir; path sources
    may come from ``tmp_path/media`` and the session's generated media directory."""
    media_root = tmp_path / "media"
    media_root.mkdir(exist_ok=True)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        lease_seconds=3.0,
        heartbeat_seconds=0.5,
        reaper_interval_seconds=0.5,
        stuck_after_seconds=20.0,
        retry_base_seconds=0.0,
        retry_max_seconds=0.0,
        poll_seconds=0.1,
        shutdown_grace_seconds=5.0,
        allowed_roots=os.pathsep.join([str(media_root), str(media_dir)]),
    )


@pytest.fixture
def store(job_settings: Settings) -> Iterator[JobStore]:
    """A JobStore on the test database."""
    s = SqlJobStore(job_settings.database_url, job_settings)
    try:
        yield s
    finally:
        s.close()


def sqlite_writable(url: str) -> bool:
    """Whether a writer can get through the writer queue and SQLite's write lock in time."""
    database = url.removeprefix("sqlite:///")
    fd = os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + 1.0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
        conn = sqlite3.connect(database, timeout=1.0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()
    finally:
        os.close(fd)  # also releases the lock
