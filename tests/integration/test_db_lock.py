"""No database writer waits without a bound.

A helper process takes the SQLite write lock through the real code (a write transaction it
keeps open) and is frozen with SIGSTOP; writers in this process then give up with
DatabaseBusy within the lock timeout, naming the holder; the health check names it too;
after SIGCONT (or SIGKILL) writes work again. On PostgreSQL a row lock held by another session
ends the same way (``lock_timeout``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from kickflow.api.health import database
from kickflow.config import Settings
from kickflow.errors import DatabaseBusy
from kickflow.jobs import Job, SqlJobStore
from kickflow.jobs.db import _WRITER_QUEUES, process_role, write_tx
from kickflow.jobs.schema import jobs
from tests.fixtures_db import _empty_pg, sqlite_writable
from tests.fixtures_server import wait_for

TIMEOUT = 1.0  # KICKFLOW_DB_LOCK_TIMEOUT_SECONDS in these tests
MARGIN = 4.0  # scheduling slack on a loaded 2-core machine
HOLDER_ROLE = ("kickflow", "worker")  # the helper's argv, as `kickflow worker` has it

# Takes the write lock in a real write transaction, says so, and keeps it until stdin says go.
HOLDER = """
import sys
url, sys.argv = sys.argv[1], sys.argv[2:]
import sqlalchemy as sa
from kickflow.jobs.db import make_engine, write_tx
engine = make_engine(url)
with write_tx(engine) as conn:
    conn.execute(sa.text("UPDATE flags SET value = value WHERE name = 'none'"))
    print("holding", flush=True)
    sys.stdin.readline()
import time
print("released", time.monotonic(), flush=True)  # one clock for every process (Linux)
"""


def process_state(pid: int) -> str:
    """The kernel's state letter of ``pid`` (T = stopped), "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return ""


class LockHolder:
    """A helper process that holds the SQLite write lock of ``url`` until released."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, url, *HOLDER_ROLE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.process.pid
        assert self.line(60) == "holding", self.process.stderr and self.process.stderr.read()

    def line(self, timeout: float) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        return stdout.readline().strip() if ready else ""

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        wait_for(lambda: process_state(self.pid) == "T", 10, "the holder to be stopped")

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        wait_for(lambda: process_state(self.pid) not in ("T", "t"), 10, "the holder to resume")

    def release(self) -> float:
        """Let it commit and exit; returns when it let go of the lock (time.monotonic())."""
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        said, released_at = self.line(30).split()
        assert said == "released"
        assert self.process.wait(timeout=30) == 0
        return float(released_at)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


@contextlib.contextmanager
def holding(url: str, *, frozen: bool = True) -> Iterator[LockHolder]:
    holder = LockHolder(url)
    try:
        if frozen:
            holder.freeze()
        yield holder
    finally:
        holder.close()


def lock_settings(tmp_path: Path, url: str, timeout: float = TIMEOUT) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        db_lock_timeout_seconds=timeout,
        lease_seconds=3.0,
        heartbeat_seconds=0.5,
    )


def make_stuck(store: SqlJobStore, org_id: str) -> Job:
    """A running job whose lease has expired (what a frozen worker leaves behind)."""
    job = store.enqueue(org_id, "path", "/media/episode.mov", file_name="episode.mov")
    assert [c.job.id for c in store.claim("worker-gone")] == [job.id]
    with write_tx(store.engine) as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == job.id).values(lease_expires_at=0))
    assert [j.id for j in store.stuck_jobs(org_id)] == [job.id]
    return job


@contextlib.contextmanager
def bounded(limit: float) -> Iterator[list[float]]:
    """Yields a list that receives the elapsed seconds; fails if they pass ``limit``."""
    elapsed: list[float] = []
    start = time.monotonic()
    try:
        yield elapsed
    finally:
        elapsed.append(time.monotonic() - start)
    assert elapsed[0] < limit, f"took {elapsed[0]:.1f} s, bound {limit:.1f} s"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "kickflow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def store(tmp_path: Path, sqlite_url: str) -> Iterator[SqlJobStore]:
    s = SqlJobStore(sqlite_url, lock_settings(tmp_path, sqlite_url))
    try:
        yield s
    finally:
        s.close()


# --- SQLite: a frozen holder ------------------------------------------------------------------


def test_a_stopped_holder_makes_writes_fail_within_the_bound_naming_it(
    store: SqlJobStore, sqlite_url: str
) -> None:
    org = store.ensure_org()
    job = make_stuck(store, org)
    with holding(sqlite_url) as holder:
        with bounded(TIMEOUT + MARGIN) as elapsed, pytest.raises(DatabaseBusy) as caught:
            store.cancel_stuck(org)
        assert elapsed[0] >= TIMEOUT * 0.9  # it did wait for the lock, up to the bound
        message = caught.value.message
        assert f"pid {holder.pid} (kickflow worker), stopped" in message, message
        assert "another process" in message and "\n" not in message
        assert caught.value.code == "database_busy" and not caught.value.permanent
        # Reads carry on meanwhile (WAL): the job is still there, still running.
        assert store.get(org, job.id).state.value == "running"


def test_the_holder_is_named_by_the_store_and_the_health_check(
    store: SqlJobStore, sqlite_url: str
) -> None:
    assert store.write_lock_holder() is None
    assert database(store)["status"] == "ok"
    with holding(sqlite_url) as holder:
        found = store.write_lock_holder()
        assert found is not None
        assert (found.pid, found.role, found.alive, found.stopped) == (
            holder.pid,
            "kickflow worker",
            True,
            True,
        )
        early = database(store, lock_warn_s=0.0)
        assert early["status"] in {"warning", "error"}
        assert early["details"]["lock_holder"]["pid"] == holder.pid
        late = wait_for(
            lambda: (c := database(store))["status"] == "error" and c,
            TIMEOUT + MARGIN,
            "the health check to report the held lock as an error",
        )
        assert late["message"].startswith(
            f"the SQLite write lock is held by pid {holder.pid} (kickflow worker), stopped, for "
        ), late
        assert "database_busy" in late["message"]
        assert late["details"]["lock_holder"]["state"] == "stopped"
    assert store.write_lock_holder() is None  # SIGKILLed on the way out: the lock is free


def test_writes_work_again_once_the_holder_resumes_and_finishes(
    store: SqlJobStore, sqlite_url: str
) -> None:
    org = store.ensure_org()
    job = make_stuck(store, org)
    with holding(sqlite_url) as holder:
        with pytest.raises(DatabaseBusy):
            store.cancel_stuck(org)
        holder.thaw()
        found = store.write_lock_holder()
        assert found is not None and found.pid == holder.pid and not found.stopped
        holder.release()
    with bounded(TIMEOUT):
        result = store.cancel_stuck(org)
    assert [j.id for j in result.done] == [job.id] and result.refused == {}
    assert store.get(org, job.id).state.value == "cancelled"
    assert store.write_lock_holder() is None and database(store)["status"] == "ok"


def test_a_killed_holder_frees_the_lock_at_once(
    tmp_path: Path, store: SqlJobStore, sqlite_url: str
) -> None:
    patient = SqlJobStore(sqlite_url, lock_settings(tmp_path, sqlite_url, timeout=30.0))
    try:
        with holding(sqlite_url) as holder:
            holder.kill()  # the kernel drops a dead process's flock (and SQLite's lock)
            with bounded(1.0):
                patient.pause_queue()
            assert patient.queue_paused()
        assert store.write_lock_holder() is None
    finally:
        patient.close()


def test_a_waiter_wakes_as_soon_as_the_holder_lets_go(tmp_path: Path, sqlite_url: str) -> None:
    patient = SqlJobStore(sqlite_url, lock_settings(tmp_path, sqlite_url, timeout=30.0))
    done: list[float] = []
    try:
        with holding(sqlite_url, frozen=False) as holder:
            writer = threading.Thread(
                target=lambda: (patient.pause_queue(), done.append(time.monotonic()))
            )
            writer.start()
            wait_for(lambda: _waiting(patient), 10, "the writer to wait for the lock")
            released = holder.release()
            writer.join(timeout=30)
        assert done, "the writer did not finish"
        woke_after = done[0] - released  # far below the 30 s bound: it did not wait it out
        assert woke_after < 3.0, f"woke {woke_after:.2f} s after the release"
    finally:
        patient.close()


def test_a_writer_that_gave_up_leaves_the_lock_free_for_others(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The bounded wait's thread is one per process and database, reused by every writer, and
    gives back at once a lock it wins after its writer gave up; it ends with its engine."""
    store = SqlJobStore(sqlite_url, lock_settings(tmp_path, sqlite_url))
    before = set(_late_flock_threads())  # other engines' (of earlier tests)
    with holding(sqlite_url, frozen=False) as holder:
        for _ in range(3):
            with pytest.raises(DatabaseBusy) as caught:
                store.pause_queue()
            assert f"pid {holder.pid} (kickflow worker), running" in caught.value.message
        assert len(set(_late_flock_threads()) - before) == 1
        holder.release()
    # Another process could write now: the late win was given back.
    wait_for(lambda: sqlite_writable(sqlite_url), 10, "the lock to be free")
    with bounded(TIMEOUT):
        store.pause_queue()
    store.close()
    del store, caught  # the traceback holds the store's frames
    gc.collect()
    wait_for(lambda: not set(_late_flock_threads()) - before, 10, "its wait thread to end with it")


def test_threads_of_one_process_wait_for_each_other_within_the_bound(
    store: SqlJobStore,
) -> None:
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with write_tx(store.engine):
            inside.set()
            leave.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(30)
        with bounded(TIMEOUT + MARGIN), pytest.raises(DatabaseBusy) as caught:
            store.pause_queue()
        assert f"this process, pid {os.getpid()}" in caught.value.message
    finally:
        leave.set()
        holder.join(timeout=30)
    store.pause_queue()
    assert store.queue_paused()


def test_sqlites_own_busy_timeout_follows_the_setting(store: SqlJobStore, sqlite_url: str) -> None:
    """A writer outside the writer queue (here a bare sqlite3 connection) holds SQLite's lock:
    the busy timeout is the same bound, and "database is locked" is DatabaseBusy."""
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        with bounded(TIMEOUT + MARGIN) as elapsed, pytest.raises(DatabaseBusy) as caught:
            store.pause_queue()
        assert elapsed[0] >= TIMEOUT * 0.9
        assert "KICKFLOW_DB_LOCK_TIMEOUT_SECONDS" in caught.value.message
        raw.execute("ROLLBACK")
    finally:
        raw.close()
    store.pause_queue()


def _waiting(store: SqlJobStore) -> bool:
    """Whether a writer of ``store`` waits for the file lock now."""
    locker = _WRITER_QUEUES[store.engine].locker
    return locker is not None and locker.wanted


def _late_flock_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "kickflow-writer-lock"]


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (["/venv/bin/kickflow", "serve", "--port", "8000", "--workers", "2"], "kickflow serve"),
        (["/venv/bin/kickflow", "worker", "--concurrency", "2"], "kickflow worker"),
        (["/src/kickflow/__main__.py", "-v", "jobs", "retry-stuck"], "kickflow jobs retry-stuck"),
        (["/src/kickflow/__main__.py", "jobs", "--org", "acme", "list"], "kickflow jobs"),
        (["/src/kickflow/__main__.py", "check", "/media/secret/episode.mov"], "kickflow check"),
        (["/src/kickflow/api/slot_main.py"], "kickflow serve slot"),
        (["-c", "import x"], "python"),
    ],
)
def test_the_holders_role_comes_from_its_command_line_without_paths_or_values(
    argv: list[str], role: str
) -> None:
    assert process_role(argv) == role


# --- PostgreSQL: a row lock held by another session -----------------------------------------


@pytest.mark.postgres
def test_a_row_lock_held_by_another_session_fails_the_write_within_the_bound(
    tmp_path: Path, pg_database_url: str
) -> None:
    _empty_pg(pg_database_url)
    store = SqlJobStore(pg_database_url, lock_settings(tmp_path, pg_database_url))
    try:
        org = store.ensure_org()
        job = store.enqueue(org, "path", "/media/episode.mov", file_name="episode.mov")
        dsn = pg_database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as other:  # a transaction left open, e.g. by a frozen process
            other.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE", (job.id,))
            with bounded(TIMEOUT + MARGIN), pytest.raises(DatabaseBusy) as caught:
                store.cancel(org, job.id)
            assert caught.value.code == "database_busy"
            assert "\n" not in caught.value.message
            other.rollback()
        with bounded(TIMEOUT + MARGIN):
            assert store.cancel(org, job.id).state.value == "cancelled"
    finally:
        store.close()
