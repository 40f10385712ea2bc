"""The job store contract (``tests/store_contract.py``) on every store we ship: the in-memory
fake, SQLite and PostgreSQL (PostgreSQL is required when CI=true, as everywhere)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from tests.fakes import FakeClock, FakeJobStore
from tests.fixtures_db import _empty_pg
from tests.store_contract import (
    ContractStore,
    FakeTime,
    SqlTime,
    TestUserContract,
    TestWorkerContract,
)

__all__ = ["TestUserContract", "TestWorkerContract"]  # collected here, written there


def contract_settings(tmp_path: Path, database_url: str = "") -> Settings:
    """Long leases (expiry is made explicit), a backoff long enough to see and capped."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        lease_seconds=30.0,
        heartbeat_seconds=0.5,
        reaper_interval_seconds=0.5,
        stuck_after_seconds=60.0,
        retry_base_seconds=10.0,
        retry_max_seconds=15.0,
        max_attempts=3,
        org_max_running=4,
    )


def fake_backend(settings: Settings) -> ContractStore:
    def build(fake: FakeJobStore, org: str) -> ContractStore:
        def reconfigure(**overrides: Any) -> ContractStore:
            return build(fake.with_settings(**overrides), org)

        return ContractStore(fake.settings, fake, fake, org, FakeTime(fake), reconfigure)

    fake = FakeJobStore(settings, clock=FakeClock())
    return build(fake, fake.ensure_org())


def sql_backend(settings: Settings, opened: list[SqlJobStore]) -> ContractStore:
    def build(s: Settings, org: str | None) -> ContractStore:
        sql = SqlJobStore(s.database_url, s)
        opened.append(sql)
        org = org or sql.ensure_org()

        def reconfigure(**overrides: Any) -> ContractStore:
            return build(s.model_copy(update=overrides), org)

        time = SqlTime(sql.engine, s.stuck_after_seconds)
        return ContractStore(s, sql, sql, org, time, reconfigure)

    return build(settings, None)


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractStore]:
    """The contract's view of one backend, on an empty database."""
    if request.param == "fake":
        yield fake_backend(contract_settings(tmp_path))
        return
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "kickflow.db")
        url = f"sqlite:///{tmp_path / 'kickflow.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
        _empty_pg(url)
    opened: list[SqlJobStore] = []
    try:
        yield sql_backend(contract_settings(tmp_path, url), opened)
    finally:
        for sql in opened:
            sql.close()
