"""Transcription usage per organisation and UTC day: what KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES
caps. Days are ISO dates (``2026-12-01``) chosen by the caller; the store only adds up seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from kickflow.jobs.schema import org_usage

T = TypeVar("T")


def used(conn: Connection, org_id: str, day: str) -> float:
    where = sa.and_(org_usage.c.org_id == org_id, org_usage.c.day == day)
    value = conn.execute(sa.select(org_usage.c.transcription_seconds).where(where)).scalar()
    return 0.0 if value is None else float(value)


def add(conn: Connection, org_id: str, day: str, seconds: float) -> None:
    """Add in one statement, so two workers finishing at once both count."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(org_usage).values(org_id=org_id, day=day, transcription_seconds=seconds)
    stmt = stmt.on_conflict_do_update(
        index_elements=[org_usage.c.org_id, org_usage.c.day],
        set_={"transcription_seconds": org_usage.c.transcription_seconds + seconds},
    )
    conn.execute(stmt)


class _Transactions(Protocol):
    def _read(self, fn: Callable[[Connection], T]) -> T: ...
    def _write(self, fn: Callable[[Connection], T]) -> T: ...


class UsageOperations:
    """The transcription-usage methods of :class:`~kickflow.jobs.store.SqlJobStore`."""

    def transcription_used_s(self: _Transactions, org_id: str, day: str) -> float:
        """Seconds of audio the organisation sent for transcription on ``day`` (0 when none)."""
        return self._read(lambda c: used(c, org_id, day))

    def add_transcription_usage(self: _Transactions, org_id: str, day: str, seconds: float) -> None:
        """Add ``seconds`` to the organisation's usage on ``day``."""
        self._write(lambda c: add(c, org_id, day, seconds))
