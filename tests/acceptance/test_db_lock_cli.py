"""A frozen process holding the SQLite write lock, seen from the real service and CLI.

``kickflow serve --workers 0`` answers a write with 503 ``database_busy`` (``Retry-After: 1``)
within the lock timeout and names the holder in ``/api/health/full``; ``kickflow jobs …`` and
``kickflow admin …`` exit 2 with one sentence; reads carry on; after SIGCONT and the holder's
commit everything writes again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.jobs import SqlJobStore
from tests.fixtures_server import Server, start_server, wait_for
from tests.integration.test_db_lock import MARGIN, TIMEOUT, holding, lock_settings, make_stuck

# The service's reaper must not recover the stuck jobs these tests act on.
LOCK_TIMINGS = {
    "KICKFLOW_DB_LOCK_TIMEOUT_SECONDS": str(TIMEOUT),
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "86400",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("db-lock")
    server = start_server(base, f"sqlite:///{base / 'kickflow.db'}", env=LOCK_TIMINGS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(server: Server, tmp_path: Path) -> Iterator[SqlJobStore]:
    s = SqlJobStore(server.db_url, lock_settings(tmp_path, server.db_url))
    try:
        yield s
    finally:
        s.close()


def database_component(server: Server) -> dict[str, Any]:
    reply = httpx.get(f"{server.url}/api/health/full", timeout=30)
    return dict(reply.json()["database"])


def timed_kickflow(server: Server, *args: str) -> tuple[float, int, str, str]:
    start = time.monotonic()
    done = server.kickflow(*args, timeout=120)
    return time.monotonic() - start, done.returncode, done.stdout, done.stderr


def test_the_api_answers_503_database_busy_and_health_names_the_holder(
    server: Server, store: SqlJobStore
) -> None:
    org = store.ensure_org()
    job = make_stuck(store, org)
    with holding(server.db_url) as holder, server.client() as api:
        start = time.monotonic()
        reply = api.post("/api/qc/debug", json={"action": "cancel_stuck"})
        elapsed = time.monotonic() - start
        assert reply.status_code == 503, reply.text
        assert elapsed < TIMEOUT + MARGIN, f"answered after {elapsed:.1f} s"
        assert reply.headers["Retry-After"] == "1"
        error = reply.json()["error"]
        assert error["code"] == "database_busy"
        assert f"pid {holder.pid} (kickflow worker), stopped" in error["message"]
        # Reads are not held up: the stuck job is still listed.
        debug = api.get("/api/qc/debug").json()
        assert [j["id"] for j in debug["stuckJobs"]] == [job.id]

        component = wait_for(
            lambda: (c := database_component(server))["status"] == "error" and c,
            TIMEOUT + MARGIN,
            "the health check to report the held lock",
        )
        assert f"held by pid {holder.pid} (kickflow worker), stopped, for " in component["message"]
        assert component["details"]["lock_holder"]["pid"] == holder.pid

        holder.thaw()
        holder.release()
        reply = api.post("/api/qc/debug", json={"action": "cancel_stuck"})
        assert reply.status_code == 200, reply.text
        assert [j["id"] for j in reply.json()["jobs"]] == [job.id]
    wait_for(lambda: database_component(server)["status"] == "ok", 10, "database ok again")


def test_the_cli_exits_2_with_one_sentence_within_the_bound(
    server: Server, store: SqlJobStore
) -> None:
    org = store.ensure_org()
    job = make_stuck(store, org)
    with holding(server.db_url) as holder:
        # A read is not held up: this is how long the CLI takes without waiting.
        baseline, code, out, err = timed_kickflow(server, "jobs", "list", "--state", "running")
        assert code == 0 and job.id in out, err
        for command in (("jobs", "retry-stuck"), ("admin", "pause-queue")):
            elapsed, code, out, err = timed_kickflow(server, *command)
            assert code == 2, (command, code, out, err)
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in err, err
            assert lines[0].startswith("kickflow: database busy: another process, ")
            assert f"pid {holder.pid} (kickflow worker), stopped" in lines[0]
            assert elapsed < baseline + TIMEOUT + MARGIN, f"{command}: {elapsed:.1f} s"
        holder.thaw()
        holder.release()
    elapsed, code, out, err = timed_kickflow(server, "jobs", "retry-stuck")
    assert code == 0 and job.id in out, err
    assert store.get(org, job.id).state.value == "queued"
