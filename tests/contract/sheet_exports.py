"""Part of the USER contract (``TestUserContract`` inherits it): Google Sheets exports, one per
(organisation, project), their cursor in the finished-jobs feed and its compare-and-set."""

from __future__ import annotations

import dataclasses

import pytest

from kickflow.errors import RequestInvalid
from kickflow.jobs.sheet_exports import SheetExportConfig
from tests.contract.harness import ContractStore

CONFIG = SheetExportConfig(
    spreadsheet_id="1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    vendor="Vendor A",
    series_title="The Series",
    connection_id="c0000000-0000-0000-0000-000000000001",
    on_completion=True,
)


class SheetExportsContract:
    def test_saved_read_back_and_scoped_by_organisation(self, store: ContractStore) -> None:
        jobs, other = store.jobs, store.jobs.ensure_org("other")
        before = jobs.now()
        saved = jobs.save_sheet_export(store.org, "Season 1", CONFIG)
        assert saved.config == CONFIG and saved.project == "Season 1"
        assert saved.cursor is not None and saved.cursor[0] >= before - 1.0, "starts at now"
        assert saved.last_error is None and saved.last_export_at is None
        assert jobs.sheet_export(store.org, "Season 1") == saved
        assert jobs.sheet_export(other, "Season 1") is None, "another organisation sees nothing"
        assert jobs.list_sheet_exports(other) == []
        assert not jobs.delete_sheet_export(other, "Season 1")
        assert [e.project for e in jobs.list_sheet_exports(store.org)] == ["Season 1"]

    def test_a_change_keeps_the_cursor_and_clears_the_error(self, store: ContractStore) -> None:
        jobs = store.jobs
        first = jobs.save_sheet_export(store.org, "P", CONFIG)
        assert first.cursor is not None
        assert jobs.move_sheet_export_cursor(store.org, "P", first.cursor, (first.cursor[0], "j"))
        jobs.note_sheet_export(store.org, "P", "Spreadsheet not found:\n  gone")
        noted = jobs.sheet_export(store.org, "P")
        assert noted is not None and noted.last_error == "Spreadsheet not found: gone"
        assert noted.last_export_at is not None
        changed = dataclasses.replace(CONFIG, vendor="Vendor B", on_completion=False)
        again = jobs.save_sheet_export(store.org, "P", changed)
        assert again.vendor == "Vendor B" and not again.on_completion
        assert again.cursor == (first.cursor[0], "j") and again.last_error is None
        assert again.created_at == first.created_at

    def test_cursor_moves_only_from_what_the_caller_saw(self, store: ContractStore) -> None:
        jobs = store.jobs
        cursor = jobs.save_sheet_export(store.org, "P", CONFIG).cursor
        assert jobs.move_sheet_export_cursor(store.org, "P", cursor, (10.5, "a"))
        assert not jobs.move_sheet_export_cursor(store.org, "P", cursor, (11.0, "b")), "stale"
        found = jobs.sheet_export(store.org, "P")
        assert found is not None and found.cursor == (10.5, "a")
        assert not jobs.move_sheet_export_cursor(store.org, "nope", cursor, (1.0, "x"))

    def test_on_completion_lists_every_organisation(self, store: ContractStore) -> None:
        jobs, other = store.jobs, store.jobs.ensure_org("other")
        jobs.save_sheet_export(store.org, "A", CONFIG)
        jobs.save_sheet_export(store.org, "B", dataclasses.replace(CONFIG, on_completion=False))
        jobs.save_sheet_export(other, "C", CONFIG)
        found = {(e.org_id, e.project) for e in jobs.sheet_exports_on_completion()}
        assert found == {(store.org, "A"), (other, "C")}
        assert jobs.delete_sheet_export(store.org, "A")
        assert jobs.sheet_export(store.org, "A") is None

    @pytest.mark.parametrize(
        ("project", "config"),
        [
            ("", CONFIG),
            ("x" * 201, CONFIG),
            ("a\nb", CONFIG),
            ("P", dataclasses.replace(CONFIG, spreadsheet_id="../../etc")),
            ("P", dataclasses.replace(CONFIG, vendor="v" * 201)),
            ("P", dataclasses.replace(CONFIG, series_title="a\x00b")),
            ("P", dataclasses.replace(CONFIG, connection_id="")),
        ],
    )
    def test_fields_that_do_not_fit_are_refused(
        self, store: ContractStore, project: str, config: SheetExportConfig
    ) -> None:
        with pytest.raises(RequestInvalid):
            store.jobs.save_sheet_export(store.org, project, config)
        assert store.jobs.list_sheet_exports(store.org) == []
