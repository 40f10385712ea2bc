"""The worker contract (``tests/store_contract.py``) against the worker protocol client: every
worker-side call goes through ``HttpWorkerStore`` to a real ``kickflow serve`` (SQLite and
PostgreSQL), exactly as the fake and the SQL store pass it in ``tests/integration``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from kickflow.jobs.db import write_tx
from kickflow.jobs.schema import api_tokens, flags, job_events, jobs, organisations, workers
from kickflow.worker.remote import HttpWorkerStore
from tests.fixtures_server import BACKENDS, Server, start_server
from tests.store_contract import ContractStore, SqlTime, TestWorkerContract

__all__ = ["TestWorkerContract"]  # collected here: the worker group, run through HTTP

# Leases long enough that no test waits one out (the suite expires them by hand); the
# service's reaper runs rarely so it does not race the tests' own reaper passes.
TIMINGS = {
    "KICKFLOW_LEASE_SECONDS": "30",
    "KICKFLOW_HEARTBEAT_SECONDS": "1",
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "3600",
    "KICKFLOW_STUCK_AFTER_SECONDS": "120",
    "KICKFLOW_RETRY_BASE_SECONDS": "5",
    "KICKFLOW_RETRY_MAX_SECONDS": "300",
    "KICKFLOW_ORG_MAX_RUNNING": "4",
}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    empty_database_url: Callable[[str], str],
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp(f"contract-{request.param}")
    srv = start_server(base, empty_database_url(request.param), env=TIMINGS)
    try:
        yield srv
    finally:
        srv.stop()


def server_settings(server: Server) -> Settings:
    values = {k.removeprefix("KICKFLOW_").lower(): v for k, v in server.env.items()
              if k.startswith("KICKFLOW_")}  # fmt: skip
    return Settings.model_validate(values)


def _empty(jobs_store: SqlJobStore, local_org: str) -> None:
    """What each contract test expects: no jobs, workers, flags or other organisations."""
    with write_tx(jobs_store.engine) as conn:
        for table in (job_events, jobs, workers, flags):
            conn.execute(sa.delete(table))
        keep = sa.select(api_tokens.c.org_id).distinct()
        conn.execute(
            sa.delete(organisations).where(
                organisations.c.id != local_org, organisations.c.id.not_in(keep)
            )
        )
        conn.execute(
            sa.update(organisations).where(organisations.c.id == local_org).values(max_running=None)
        )


@pytest.fixture
def store(server: Server) -> Iterator[ContractStore]:
    settings = server_settings(server)
    jobs_store = SqlJobStore(server.db_url, settings)
    org = jobs_store.ensure_org()
    _empty(jobs_store, org)
    worker = HttpWorkerStore(server.url, server.token_for("local", "worker"), settings)
    try:
        yield ContractStore(
            settings=settings,
            jobs=jobs_store,
            worker=worker,
            org=org,
            time=SqlTime(jobs_store.engine, settings.stuck_after_seconds),
        )
    finally:
        worker.close()
        jobs_store.close()
