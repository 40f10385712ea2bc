"""Engines for SQLite (WAL, ``BEGIN IMMEDIATE`` for writes) and PostgreSQL, and the adapter
boundary where driver errors become :class:`~kickflow.errors.DatabaseError`.

No writer waits without a bound: SQLite writers queue on a kernel file lock for at most
``lock_timeout_s`` (then :class:`~kickflow.errors.DatabaseBusy`, naming the process that holds
the lock), SQLite's own busy timeout is the same bound, and PostgreSQL sessions get it as
``lock_timeout``.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url

from kickflow.errors import DatabaseBusy, DatabaseError

DEFAULT_LOCK_TIMEOUT_S = 5.0  # the default of KICKFLOW_DB_LOCK_TIMEOUT_SECONDS
HOLDER_RECORD_BYTES = 128  # fixed size: one pwrite overwrites the previous holder's record
PG_LOCK_NOT_AVAILABLE = "55P03"
RUNBOOK = "docs/runbooks/qc-stuck-jobs.md#database-busy"
_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,23}$")
_COMMAND = re.compile(r"^[a-z][a-z-]{0,23}$")  # a command's name, never an option's value
_GROUP_ARGS = (["jobs"], ["admin"], ["db"])  # command groups: their command is the next word


def make_engine(
    url: str,
    *,
    idle_tx_timeout_s: float = 60.0,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> Engine:
    """An engine for ``url``; SQLite files get WAL, the writer queue and explicit BEGIN modes.

    ``lock_timeout_s`` bounds every wait for a lock: the SQLite writer queue and busy timeout,
    PostgreSQL's ``lock_timeout`` (a row lock held by a frozen session). On PostgreSQL a
    session left idle inside a transaction is also ended by the server after
    ``idle_tx_timeout_s``, so its row locks cannot hide a stuck job from the reaper for
    longer than that. SQLite cannot end a frozen holder: its waiters give up with
    DatabaseBusy instead, until the holder resumes or dies.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, lock_timeout_s)
    if parsed.get_backend_name() == "postgresql":
        options = (
            f"-c idle_in_transaction_session_timeout={int(idle_tx_timeout_s * 1000)}"
            f" -c lock_timeout={max(1, int(lock_timeout_s * 1000))}"
        )
        return sa.create_engine(
            url,
            pool_size=4,
            max_overflow=8,
            pool_recycle=1800,
            connect_args={"options": options},
        )
    raise DatabaseError(f"unsupported database URL {parsed.render_as_string()!r}")


# --- who holds the SQLite write lock ----------------------------------------------------------


@dataclass(frozen=True)
class LockHolder:
    """The process that holds (or, in a record, last took) the SQLite write lock."""

    pid: int
    role: str
    held_for: float
    alive: bool
    stopped: bool

    @property
    def state(self) -> str:
        if not self.alive:
            return "gone"
        return "stopped" if self.stopped else "running"

    def describe(self) -> str:
        """``pid 1234 (kickflow worker), stopped`` (for messages)."""
        if not self.pid:
            return "an unidentified process"
        return f"pid {self.pid} ({self.role}), {self.state}"


def process_role(argv: Sequence[str] | None = None) -> str:
    """A short name for this process from its command line: ``kickflow serve``,
    ``kickflow worker``, ``kickflow jobs retry-stuck``, ``kickflow serve slot``, ``pytest`` …
    (words only, never a path or an argument value beyond the command)."""
    args = list(sys.argv if argv is None else argv) or ["python"]
    path = Path(args[0])
    prog = path.parent.name if path.name == "__main__.py" else path.name
    if prog == "slot_main.py":
        return "kickflow serve slot"
    if prog != "kickflow":
        return prog if _WORD.match(prog) else "python"
    rest = args[1:]
    first = next((i for i, a in enumerate(rest) if _COMMAND.match(a)), len(rest))
    words = rest[first : first + (2 if rest[first : first + 1] in _GROUP_ARGS else 1)]
    return " ".join(["kickflow", *(w for w in words if _COMMAND.match(w))])


def _process_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (``R``, ``S``, ``T`` stopped, ``Z`` …), or
    None when there is no such process (here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]  # after the command name, which may hold spaces


def _record_parts(pid: int, role: str) -> tuple[bytes, bytes]:
    """The constant ends of this process's holder record (formatted once per process)."""
    return b"%d " % pid, b" %s\n" % role.encode()[:64]


def _encode_record(prefix: bytes, suffix: bytes) -> bytes:
    """``pid monotonic_ns epoch_ns role``, padded to the fixed size (integers: cheap)."""
    line = b"%s%d %d%s" % (prefix, time.monotonic_ns(), time.time_ns(), suffix)
    return line.ljust(HOLDER_RECORD_BYTES)


def _write_record(fd: int, parts: tuple[bytes, bytes]) -> bool:
    """One pwrite over the previous holder's record; False if it failed (the record only
    names the holder in messages: a write goes ahead without it). Not a shared memory
    mapping, though cheaper: a mapped file truncated under it would kill the process."""
    try:
        os.pwrite(fd, _encode_record(*parts), 0)
    except OSError:
        return False
    return True


def _decode_record(raw: bytes) -> LockHolder:
    try:
        pid_s, mono_s, epoch_s, role = raw.decode().split("\n", 1)[0].split(" ", 3)
        pid, mono_ns, epoch_ns = int(pid_s), int(mono_s), int(epoch_s)
    except ValueError:
        return LockHolder(0, "unknown", 0.0, alive=False, stopped=False)
    held = (time.monotonic_ns() - mono_ns) / 1e9  # CLOCK_MONOTONIC: one clock for all processes
    if not 0 <= held < 10 * 86400:  # not the same clock after all (another time namespace)
        held = max(0.0, (time.time_ns() - epoch_ns) / 1e9)
    state = _process_state(pid)
    return LockHolder(pid, role, held, state not in (None, "Z"), state in ("T", "t"))


# --- the writer queue -------------------------------------------------------------------------


class _Locker:
    """A daemon thread that waits in a blocking ``flock`` for the writers of this process that
    found the lock taken: the bounded wait. It wakes the moment the lock is free (no polling,
    no thread started per wait); a writer that gives up leaves it waiting for the next one,
    and a lock won when no writer wants it any more is given back at once. Plain locks pass
    the turns (a Condition costs about twice as much per hand-over, measured)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd  # an open file description of its own: its lock is not the queue's
        self.request = threading.Lock()  # released: a writer wants the lock, go and wait
        self.granted = threading.Lock()  # released: the lock is held on ``fd`` for it
        self.request.acquire()
        self.granted.acquire()
        self.mutex = threading.Lock()
        self.wanted = False  # a writer is waiting (it has not given up)
        self.busy = False  # the thread was asked to wait and has not given the lock back
        self.won = False
        self.closed = False
        threading.Thread(target=self._run, name="kickflow-writer-lock", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.request.acquire()
            if self.closed:
                break
            fd = self.fd
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # not expected; the waiting writer times out
                with self.mutex:
                    self.busy = False
                continue
            with self.mutex:
                if self.wanted and not self.closed:
                    self.won = True
                    self.granted.release()
                    continue
                self.busy = False
            fcntl.flock(fd, fcntl.LOCK_UN)  # won for nobody: give it back
            if self.closed:
                break
        os.close(self.fd)

    def acquire(self, timeout: float, spare_fd: int) -> int | None:
        """The descriptor that now holds the lock, or None after ``timeout`` seconds; the
        thread keeps ``spare_fd`` (which holds no lock) for its next wait."""
        with self.mutex:
            self.wanted = True
            if not self.busy:
                self.busy = True
                self.request.release()
        if not self.granted.acquire(timeout=max(0.0, timeout)):
            with self.mutex:
                if not self.won:
                    self.wanted = False
                    return None
            self.granted.acquire()  # won as the time ran out: released already
        with self.mutex:
            self.won = self.wanted = self.busy = False
            fd, self.fd = self.fd, spare_fd
        return fd

    def close(self) -> None:
        with self.mutex:
            self.closed = True
            if not self.busy:
                self.busy = True
                self.request.release()


class _WriterQueue:
    """Writers to one SQLite file line up on a kernel file lock (``flock``) before
    ``BEGIN IMMEDIATE``: a waiter wakes the moment the lock is free, instead of SQLite's
    busy handler sleeping up to 100 ms between retries. The kernel drops the lock of a
    killed process; a frozen one holds it, so every wait is bounded by ``timeout`` and then
    raises DatabaseBusy naming the holder, whose pid, role and start time each holder writes
    into the lock file (one ``pwrite`` per acquisition)."""

    def __init__(self, database: str, timeout: float) -> None:
        self.path = f"{database}.writer-lock"
        self.timeout = timeout
        self.thread_lock = threading.Lock()
        self.fd: int | None = None
        self.pid = 0
        self.record_parts = (b"", b"")
        self.locker: _Locker | None = None
        self.local = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        if getattr(self.local, "depth", 0):  # nested in this thread: already at the front
            yield
            return
        deadline = None  # the clock is read only when there is a wait (the fast path is hot)
        if not self.thread_lock.acquire(blocking=False):
            deadline = time.monotonic() + self.timeout
            if not self.thread_lock.acquire(timeout=self.timeout):
                raise self.busy()  # a thread of this process is at the front, held up
        try:
            fd = self._lock(deadline)
            self.local.depth = 1
            try:
                _write_record(fd, self.record_parts)
                yield
            finally:
                self.local.depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()

    def _lock(self, deadline: float | None) -> int:
        """Take the file lock (the caller holds ``thread_lock``); returns the descriptor."""
        if self.fd is None or self.pid != os.getpid():
            self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            self.record_parts, self.locker = _record_parts(self.pid, process_role()), None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self.fd
        except BlockingIOError:
            pass
        if self.locker is None:
            self.locker = _Locker(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            weakref.finalize(self, self.locker.close)
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        fd = self.locker.acquire(deadline - time.monotonic(), self.fd)
        if fd is None:
            raise self.busy()
        self.fd = fd  # the descriptors change places: the locker waits on the other next time
        return fd

    def record(self) -> LockHolder:
        """The holder record as the last process to take the lock wrote it."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return LockHolder(0, "unknown", 0.0, alive=False, stopped=False)
        try:
            return _decode_record(os.pread(fd, HOLDER_RECORD_BYTES, 0))
        finally:
            os.close(fd)

    def holder(self) -> LockHolder | None:
        """Who holds the lock now, or None when it is free (a non-blocking shared try on a
        descriptor of its own, released at once)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.record()
        finally:
            os.close(fd)  # also releases the shared lock if it was granted
        return None

    def busy(self) -> DatabaseBusy:
        holder = self.record()
        who = holder.describe()
        if holder.pid:
            who = f"{'this' if holder.pid == os.getpid() else 'another'} process, {who},"
        return DatabaseBusy(
            f"database busy: {who} has held the SQLite write lock for {holder.held_for:.0f} s;"
            f" try again, and if it persists see {RUNBOOK} (a stopped process: resume it or"
            " kill it)"
        )


_WRITER_QUEUES: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


def sqlite_lock_holder(engine: Engine) -> LockHolder | None:
    """The process holding ``engine``'s SQLite write lock now; None when it is free (or the
    database is not a SQLite file)."""
    queue = _WRITER_QUEUES.get(engine)
    return queue.holder() if queue else None


def _sqlite_engine(url: str, database: str | None, lock_timeout_s: float) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": lock_timeout_s})
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        _WRITER_QUEUES[engine] = _WriterQueue(database, lock_timeout_s)
    busy_ms = int(lock_timeout_s * 1000)

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        _sqlite_on_connect(dbapi_conn, busy_ms)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, busy_ms: int) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can take the lock up front.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("kickflow_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _is_lock_timeout(orig: object) -> bool:
    """SQLite's busy timeout ran out, or PostgreSQL's ``lock_timeout`` did."""
    if PG_LOCK_NOT_AVAILABLE in (getattr(orig, "sqlstate", None), getattr(orig, "pgcode", None)):
        return True
    name = str(getattr(orig, "sqlite_errorname", ""))
    return name.startswith("SQLITE_BUSY") or "database is locked" in str(orig)


@contextmanager
def translated() -> Iterator[None]:
    """Turn driver and SQLAlchemy errors into DatabaseError (transient), keeping the cause;
    a lock wait that ran out of time is DatabaseBusy."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        if _is_lock_timeout(orig):
            raise DatabaseBusy(
                "database busy: another session held a lock this operation needs for longer"
                " than the lock timeout (KICKFLOW_DB_LOCK_TIMEOUT_SECONDS); try again, and if it"
                f" persists see {RUNBOOK}"
            ) from exc
        detail = str(orig or exc).strip().splitlines()[0]
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
