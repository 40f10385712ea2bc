"""Server fixtures: ``kickflow serve`` as a real process (uvicorn) on SQLite and PostgreSQL.

``api_server`` is module-scoped and parametrised over both backends; each server gets an empty
database (``serve`` migrates it on first start), its own data directory and small lease and
reaper timings. ``Server.token_for(org, role)`` issues tokens straight in the database.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.jobs.accounts import create_org, create_token, find_org, revoke_token
from kickflow.jobs.db import make_engine, write_tx
from tests.fixtures_db import PG_HOST, PG_PORT, _admin, _pg_admin_user, _pg_unavailable

TOKEN_LINE = re.compile(r"Admin token \(local organisation, shown once\): (\S+)")
START_TIMEOUT_S = 60.0

FAST_TIMINGS = {
    "KICKFLOW_LEASE_SECONDS": "3",
    "KICKFLOW_HEARTBEAT_SECONDS": "0.5",
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "0.5",
    "KICKFLOW_STUCK_AFTER_SECONDS": "20",
    "KICKFLOW_RETRY_BASE_SECONDS": "0",
    "KICKFLOW_RETRY_MAX_SECONDS": "0",
    "KICKFLOW_POLL_SECONDS": "0.1",
    "KICKFLOW_SHUTDOWN_GRACE_SECONDS": "5",
    "KICKFLOW_MAX_UPLOAD_MB": "2",
    # Tests read /api/health/full right after changing state: a snapshot this young is current.
    "KICKFLOW_HEALTH_CACHE_SECONDS": "0.2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@dataclass
class Server:
    """A running ``kickflow serve`` and what tests need to talk to it."""

    url: str
    token: str
    data_dir: Path
    media_root: Path
    db_url: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"} if token != "" else {}
        kw.setdefault("timeout", 30)
        return httpx.Client(base_url=self.url, headers=headers, **kw)

    def token_for(self, org: str, role: str) -> str:
        """A fresh token for ``org`` (created when missing) with ``role``."""
        engine = make_engine(self.db_url)
        try:
            with write_tx(engine) as conn:
                org_id = find_org(conn, org) or create_org(conn, org)
                return create_token(conn, org_id, role).secret  # type: ignore[arg-type]
        finally:
            engine.dispose()

    def revoke(self, token: str) -> None:
        engine = make_engine(self.db_url)
        try:
            with write_tx(engine) as conn:
                revoke_token(conn, token)
        finally:
            engine.dispose()

    def kickflow(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the CLI against this server's database and data directory."""
        return subprocess.run(
            [sys.executable, "-m", "kickflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def uploads(self) -> list[Path]:
        """Every stored file under the upload area (to check that refused requests wrote
        nothing); the checksum sidecars (``.sha256``) written with each are left out."""
        root = self.data_dir / "uploads"
        if not root.exists():
            return []
        return sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".sha256")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def server_env(data_dir: Path, db_url: str, media_root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KICKFLOW_")}
    env.update(FAST_TIMINGS)
    env.update(
        KICKFLOW_DATA_DIR=str(data_dir),
        KICKFLOW_DATABASE_URL=db_url,
        KICKFLOW_ALLOWED_ROOTS=str(media_root),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _pump(stream: Any, lines: queue.Queue[str], keep: list[str]) -> None:
    for line in stream:
        keep.append(line)
        lines.put(line)


def start_server(
    base: Path,
    db_url: str,
    *,
    workers: int = 0,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``kickflow serve`` and wait until it answers; returns the first-run admin token."""
    data_dir, media_root = base / "data", base / "media"
    media_root.mkdir(parents=True, exist_ok=True)
    full_env = server_env(data_dir, db_url, media_root, **(env or {}))
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kickflow", "serve", "--port", str(port), "--workers", str(workers)],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    keep: list[str] = []
    threading.Thread(target=_pump, args=(process.stdout, lines, keep), daemon=True).start()
    server = Server(
        f"http://127.0.0.1:{port}", "", data_dir, media_root, db_url, full_env, process, keep
    )
    server.token = _await_token(server, lines)
    wait_for(lambda: _answers(server.url), START_TIMEOUT_S, "the server to answer")
    return server


def _await_token(server: Server, lines: queue.Queue[str]) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None and lines.empty():
            pytest.fail("kickflow serve exited:\n" + "".join(server.output))
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        match = TOKEN_LINE.search(line)
        if match:
            return match.group(1)
        if "printed on the first run only" in line:
            return ""
    server.stop()
    pytest.fail("kickflow serve printed no token:\n" + "".join(server.output))


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def empty_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Makes URLs of fresh, empty (unmigrated) databases: ``make("sqlite"|"postgres")``."""
    created: list[tuple[str, str]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'kickflow.db'}"
        user, reason = _pg_admin_user()
        if user is None:
            _pg_unavailable(reason)
        assert user is not None
        name = f"kickflow_api_{uuid.uuid4().hex[:12]}"
        _admin(user, f'CREATE DATABASE "{name}"')
        created.append((user, name))
        return f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"

    yield make
    for user, name in created:
        _admin(user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def api_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    empty_database_url: Callable[[str], str],
) -> Iterator[Server]:
    """``kickflow serve --workers 0`` on an empty database, per backend, for one test module."""
    base = tmp_path_factory.mktemp(f"server-{request.param}")
    server = start_server(base, empty_database_url(request.param))
    try:
        yield server
    finally:
        server.stop()
