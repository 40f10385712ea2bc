"""Google Sheets exports in the fake store, with the rules of :mod:`kickflow.jobs.sheet_exports`
(the same field checks, a new export's cursor at now, a change keeping it, compare-and-set
cursor moves, an unknown organisation refused)."""

from __future__ import annotations

import dataclasses

from kickflow.errors import DatabaseError
from kickflow.jobs.sheet_exports import (
    Cursor,
    SheetExport,
    SheetExportConfig,
    check_config,
    check_project,
    error_line,
)
from tests.fakes.base import FakeStoreBase


class FakeSheetExports(FakeStoreBase):
    """Exports by (organisation, project) (part of :class:`~tests.fakes.FakeJobStore`)."""

    def save_sheet_export(
        self, org_id: str, project: str, config: SheetExportConfig
    ) -> SheetExport:
        check_project(project)
        check_config(config)
        with self._tx("save_sheet_export", org_id, project, config) as now:
            if org_id not in self._t.orgs:
                raise DatabaseError("database error: FOREIGN KEY constraint failed (no org)")
            old = self._t.sheet_exports.get((org_id, project))
            fields = dataclasses.asdict(config)
            if old is None:
                saved = SheetExport(
                    org_id=org_id, project=project, **fields, cursor=(now, ""),
                    last_error=None, last_export_at=None, created_at=now, updated_at=now,
                )  # fmt: skip
            else:
                saved = dataclasses.replace(old, **fields, last_error=None, updated_at=now)
            self._t.sheet_exports[(org_id, project)] = saved
            return saved

    def sheet_export(self, org_id: str, project: str) -> SheetExport | None:
        with self._tx("sheet_export", org_id, project):
            return self._t.sheet_exports.get((org_id, project))

    def list_sheet_exports(self, org_id: str) -> list[SheetExport]:
        with self._tx("list_sheet_exports", org_id):
            return [e for (org, _), e in sorted(self._t.sheet_exports.items()) if org == org_id]

    def delete_sheet_export(self, org_id: str, project: str) -> bool:
        with self._tx("delete_sheet_export", org_id, project):
            return self._t.sheet_exports.pop((org_id, project), None) is not None

    def sheet_exports_on_completion(self) -> list[SheetExport]:
        with self._tx("sheet_exports_on_completion"):
            return [e for _, e in sorted(self._t.sheet_exports.items()) if e.on_completion]

    def move_sheet_export_cursor(
        self, org_id: str, project: str, expected: Cursor | None, to: Cursor
    ) -> bool:
        with self._tx("move_sheet_export_cursor", org_id, project, expected, to):
            found = self._t.sheet_exports.get((org_id, project))
            if found is None or found.cursor != expected:
                return False
            self._t.sheet_exports[(org_id, project)] = dataclasses.replace(found, cursor=to)
            return True

    def note_sheet_export(self, org_id: str, project: str, error: str | None) -> None:
        with self._tx("note_sheet_export", org_id, project, error) as now:
            found = self._t.sheet_exports.get((org_id, project))
            if found is not None:
                noted = dataclasses.replace(found, last_error=error_line(error), last_export_at=now)
                self._t.sheet_exports[(org_id, project)] = noted
