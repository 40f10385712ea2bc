"""The worker registry and global flags (queue pause, reaper status). Organisations and
tokens: :mod:`kickflow.jobs.accounts`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.jobs.models import WorkerInfo
from kickflow.jobs.schema import flags, workers
from kickflow.jobs.sqlfuncs import db_now


def set_flag(conn: Connection, name: str, value: str) -> None:
    done = conn.execute(
        sa.update(flags).where(flags.c.name == name).values(value=value, updated_at=db_now())
    )
    if done.rowcount == 0:
        conn.execute(sa.insert(flags).values(name=name, value=value, updated_at=db_now()))


def get_flag(conn: Connection, name: str) -> tuple[str, float] | None:
    """(value, updated_at) of a flag, or None when never set."""
    row = conn.execute(
        sa.select(flags.c.value, flags.c.updated_at).where(flags.c.name == name)
    ).first()
    return None if row is None else (str(row.value), float(row.updated_at))


def register_worker(
    conn: Connection, worker_id: str, hostname: str, pid: int, concurrency: int
) -> None:
    now = db_now()
    conn.execute(sa.delete(workers).where(workers.c.id == worker_id))
    conn.execute(
        sa.insert(workers).values(
            id=worker_id,
            hostname=hostname,
            pid=pid,
            concurrency=concurrency,
            state="running",
            started_at=now,
            heartbeat_at=now,
        )
    )


def beat_worker(conn: Connection, worker_id: str, state: str = "running") -> None:
    values: dict[str, object] = {"heartbeat_at": db_now(), "state": state}
    if state == "stopped":
        values["stopped_at"] = db_now()
    conn.execute(sa.update(workers).where(workers.c.id == worker_id).values(**values))


def live_workers(conn: Connection, within_seconds: float) -> list[WorkerInfo]:
    """Workers that heartbeat within ``within_seconds`` and have not stopped."""
    stmt = sa.select(workers).where(
        workers.c.state != "stopped", workers.c.heartbeat_at > db_now() - within_seconds
    )
    return [
        WorkerInfo.from_row(r) for r in conn.execute(stmt.order_by(workers.c.started_at)).mappings()
    ]


def prune_workers(conn: Connection, older_than_seconds: float) -> int:
    """Forget workers silent for longer than ``older_than_seconds``."""
    done = conn.execute(
        sa.delete(workers).where(workers.c.heartbeat_at < db_now() - older_than_seconds)
    )
    return int(done.rowcount or 0)


def registered_workers(conn: Connection, hostname: str) -> dict[str, int]:
    """Every worker ever registered from ``hostname`` (live or not): id -> pid."""
    stmt = sa.select(workers.c.id, workers.c.pid).where(workers.c.hostname == hostname)
    return {str(i): int(pid) for i, pid in conn.execute(stmt).all()}
