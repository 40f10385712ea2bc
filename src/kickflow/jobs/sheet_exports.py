"""Google Sheets exports: per (organisation, project), which spreadsheet the project's QC results
go to, the vendor and series title written in every row, the Google connection used, whether
results go out on completion, and that export's cursor in the finished-jobs feed
(:mod:`kickflow.jobs.finished`).

A new export's cursor starts at the moment it is saved: turning on "on completion" sends the jobs
that finish from then on; older results go out with an on-demand export. Moving the cursor is a
compare-and-set, so two service nodes never export the same batch twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from kickflow.errors import RequestInvalid
from kickflow.jobs.schema import sheet_exports
from kickflow.jobs.sqlfuncs import db_now

T = TypeVar("T")
Cursor = tuple[float, str]
TEXT_MAX = 200  # project, vendor and series title columns
ERROR_MAX = 500
SPREADSHEET_ID = re.compile(r"[A-Za-z0-9_-]{10,200}")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class SheetExportConfig:
    """What an admin sets for a project's export."""

    spreadsheet_id: str
    vendor: str
    series_title: str
    connection_id: str
    on_completion: bool


@dataclass(frozen=True)
class SheetExport:
    """One project's export as stored."""

    org_id: str
    project: str
    spreadsheet_id: str
    vendor: str
    series_title: str
    connection_id: str
    on_completion: bool
    cursor: Cursor | None  # (finished_at, id) of the last finished job the export handled
    last_error: str | None
    last_export_at: float | None
    created_at: float
    updated_at: float

    @property
    def config(self) -> SheetExportConfig:
        return SheetExportConfig(
            self.spreadsheet_id,
            self.vendor,
            self.series_title,
            self.connection_id,
            self.on_completion,
        )

    @classmethod
    def from_row(cls, row: Any) -> SheetExport:
        at = row.cursor_at
        return cls(
            org_id=str(row.org_id),
            project=str(row.project),
            spreadsheet_id=str(row.spreadsheet_id),
            vendor=str(row.vendor),
            series_title=str(row.series_title),
            connection_id=str(row.connection_id),
            on_completion=bool(row.on_completion),
            cursor=None if at is None else (float(at), str(row.cursor_job_id or "")),
            last_error=row.last_error,
            last_export_at=None if row.last_export_at is None else float(row.last_export_at),
            created_at=float(row.created_at),
            updated_at=float(row.updated_at),
        )


def _text(label: str, value: str, *, required: bool) -> str:
    if required and not value.strip():
        raise RequestInvalid(f"{label}: required")
    if len(value) > TEXT_MAX:
        raise RequestInvalid(f"{label}: at most {TEXT_MAX} characters")
    if CONTROL.search(value):
        raise RequestInvalid(f"{label}: control characters are not allowed")
    return value


def check_project(project: str) -> str:
    """The project name if a job could carry it (1-200 characters, no control characters)."""
    return _text("project", project, required=True)


def check_config(config: SheetExportConfig) -> SheetExportConfig:
    """The config if every field fits its column; RequestInvalid naming the field else."""
    if not SPREADSHEET_ID.fullmatch(config.spreadsheet_id):
        raise RequestInvalid("spreadsheet: not a Google Sheets spreadsheet id")
    _text("vendor", config.vendor, required=False)
    _text("seriesTitle", config.series_title, required=False)
    if not config.connection_id or len(config.connection_id) > 36:
        raise RequestInvalid("connection: not a Google connection id")
    return config


def error_line(error: str | None) -> str | None:
    """An error as one stored line of at most 500 characters."""
    return None if error is None else " ".join(error.split())[:ERROR_MAX]


def _where(org_id: str, project: str) -> sa.ColumnElement[bool]:
    return sa.and_(sheet_exports.c.org_id == org_id, sheet_exports.c.project == project)


def save(conn: Connection, org_id: str, project: str, config: SheetExportConfig) -> SheetExport:
    """Insert (cursor at now) or update the config (cursor kept), in one statement."""
    now = db_now()
    fields = {
        "spreadsheet_id": config.spreadsheet_id,
        "vendor": config.vendor,
        "series_title": config.series_title,
        "connection_id": config.connection_id,
        "on_completion": config.on_completion,
    }
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(sheet_exports).values(
        org_id=org_id, project=project, **fields,
        cursor_at=now, cursor_job_id="", created_at=now, updated_at=now,
    )  # fmt: skip
    stmt = stmt.on_conflict_do_update(
        index_elements=[sheet_exports.c.org_id, sheet_exports.c.project],
        set_={**fields, "updated_at": now, "last_error": None},
    )
    conn.execute(stmt)
    found = get(conn, org_id, project)
    assert found is not None  # just written, in this transaction
    return found


def get(conn: Connection, org_id: str, project: str) -> SheetExport | None:
    row = conn.execute(sa.select(sheet_exports).where(_where(org_id, project))).first()
    return None if row is None else SheetExport.from_row(row)


def listed(conn: Connection, org_id: str | None, on_completion: bool = False) -> list[SheetExport]:
    stmt = sa.select(sheet_exports)
    if org_id is not None:
        stmt = stmt.where(sheet_exports.c.org_id == org_id)
    if on_completion:
        stmt = stmt.where(sheet_exports.c.on_completion.is_(True))
    stmt = stmt.order_by(sheet_exports.c.org_id, sheet_exports.c.project)
    return [SheetExport.from_row(r) for r in conn.execute(stmt)]


def delete(conn: Connection, org_id: str, project: str) -> bool:
    return bool(conn.execute(sa.delete(sheet_exports).where(_where(org_id, project))).rowcount)


def move_cursor(
    conn: Connection, org_id: str, project: str, expected: Cursor | None, to: Cursor
) -> bool:
    """Compare-and-set: only when the cursor is still ``expected``."""
    same: sa.ColumnElement[bool]
    if expected is None:
        same = sheet_exports.c.cursor_at.is_(None)
    else:
        same = sa.and_(
            sheet_exports.c.cursor_at == expected[0], sheet_exports.c.cursor_job_id == expected[1]
        )
    stmt = (
        sa.update(sheet_exports)
        .where(_where(org_id, project), same)
        .values(cursor_at=to[0], cursor_job_id=to[1])
    )
    return bool(conn.execute(stmt).rowcount)


def note(conn: Connection, org_id: str, project: str, error: str | None) -> None:
    values = {"last_error": error_line(error), "last_export_at": db_now()}
    conn.execute(sa.update(sheet_exports).where(_where(org_id, project)).values(**values))


class _Transactions(Protocol):
    def _read(self, fn: Callable[[Connection], T]) -> T: ...
    def _write(self, fn: Callable[[Connection], T]) -> T: ...


class SheetExportOperations:
    """The Sheets-export methods of :class:`~kickflow.jobs.store.SqlJobStore`."""

    def save_sheet_export(
        self: _Transactions, org_id: str, project: str, config: SheetExportConfig
    ) -> SheetExport:
        """Set up (or change) the project's export; RequestInvalid for a field that does not
        fit. A new export's cursor starts now; a change keeps it and clears the last error."""
        check_project(project)
        check_config(config)
        return self._write(lambda c: save(c, org_id, project, config))

    def sheet_export(self: _Transactions, org_id: str, project: str) -> SheetExport | None:
        """The project's export, or None (another organisation's is None too)."""
        return self._read(lambda c: get(c, org_id, project))

    def list_sheet_exports(self: _Transactions, org_id: str) -> list[SheetExport]:
        """The organisation's exports, by project."""
        return self._read(lambda c: listed(c, org_id))

    def delete_sheet_export(self: _Transactions, org_id: str, project: str) -> bool:
        """Stop exporting the project (the spreadsheet is left as it is); whether it was set."""
        return self._write(lambda c: delete(c, org_id, project))

    def sheet_exports_on_completion(self: _Transactions) -> list[SheetExport]:
        """Every organisation's exports that send results on completion (the service loop)."""
        return self._read(lambda c: listed(c, None, on_completion=True))

    def move_sheet_export_cursor(
        self: _Transactions, org_id: str, project: str, expected: Cursor | None, to: Cursor
    ) -> bool:
        """Move the export's cursor to ``to`` if it is still ``expected``; whether it moved."""
        return self._write(lambda c: move_cursor(c, org_id, project, expected, to))

    def note_sheet_export(
        self: _Transactions, org_id: str, project: str, error: str | None
    ) -> None:
        """Record an export's outcome: when, and its error (None: it went through)."""
        self._write(lambda c: note(c, org_id, project, error))
