"""The Sheets export's pure parts: a job's 16 cells, the QC Issues text, the tab name, the
spreadsheet link, and which result of a file goes out (jobs made on the in-memory store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kickflow.errors import SpreadsheetIdInvalid
from kickflow.integrations.google.sheets import a1_range
from kickflow.integrations.google.sheets_export import (
    COLUMNS,
    MAX_ISSUES,
    latest_per_file,
    qc_issues,
    setup_requests,
    sheet_row,
    spreadsheet_id_of,
    tab_title,
)
from kickflow.jobs import Job
from kickflow.jobs.sheet_exports import SheetExport
from tests.fakes import FakeJobStore

SHEET_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-ab"
EXPORT = SheetExport(
    "org", "Season 1", SHEET_ID, "Vendor A", "The Series", "c1", True,
    None, None, None, 0.0, 0.0,
)  # fmt: skip


def finished(
    store: FakeJobStore, file_name: str, verdict: str, report: dict[str, Any] | None = None
) -> Job:
    org = store.ensure_org()
    store.enqueue(org, "path", f"/m/{file_name}", file_name=file_name, project="Season 1")
    (claimed,) = store.claim("w", limit=1)
    return store.complete(claimed.lease, verdict, report or {"findings": []})


def test_a_row_has_the_sixteen_columns_with_the_parts_of_the_file_name() -> None:
    parts = {"code": "ABC", "episode": 7, "lang": "de", "desc": "final", "ext": "mov"}
    report = {"findings": [], "delivery": {"file_name_parts": parts}}
    job = finished(FakeJobStore(), "ABC-EP007-de-final.mov", "needs_review", report)
    row = sheet_row(job, EXPORT)
    assert len(row) == len(COLUMNS) == 16
    assert row[:8] == [
        "ABC", "Season 1", "The Series", "de", "Vendor A", 7, "ABC-EP007-de-final.mov", "",
    ]  # fmt: skip
    assert row[8:14] == [""] * 6, "the people's columns are left empty"
    day = datetime.fromtimestamp(job.finished_at or 0.0, UTC).date().isoformat()
    assert row[14] == "REVIEW" and row[15] == day


def test_without_a_convention_code_episode_and_language_are_blank() -> None:
    job = finished(FakeJobStore(), "whatever name.mxf", "passed")
    row = sheet_row(job, EXPORT)
    assert (row[0], row[3], row[5], row[14]) == ("", "", "", "PASS")


def test_qc_issues_lists_errors_and_warnings_with_timecodes_and_is_capped() -> None:
    findings = [
        {"severity": "error", "message": "Too loud", "timecode_start": "10:00:00:01"},
        {"severity": "info", "message": "Fine"},
        {"severity": "warning", "message": "Whole file", "timecode": None},
        {"severity": "warning", "message": "x" * 1000, "timecode": "00:00:02.000"},
    ]
    text = qc_issues({"findings": findings})
    lines = text.split("\n")
    assert lines[0] == "[ERROR] 10:00:00:01 Too loud"
    assert lines[1] == "[WARNING] Whole file"
    assert lines[2].startswith("[WARNING] 00:00:02.000 xxx") and len(lines[2]) == 300
    many = qc_issues({"findings": [{"severity": "error", "message": "e"}] * (MAX_ISSUES + 5)})
    assert many.split("\n")[-1] == "… and 5 more (see the QC report)"
    assert qc_issues({}) == ""


def test_the_latest_result_of_each_file_goes_out() -> None:
    store = FakeJobStore()
    first = finished(store, "EP01.mov", "failed")
    store.clock.advance(10)
    second = finished(store, "EP01.mov", "passed")
    store.enqueue(store.ensure_org(), "path", "/m/q.mov", file_name="q.mov")
    queued = store.list_jobs(None, state="queued").jobs
    assert [j.id for j in latest_per_file([second, first, *queued])] == [second.id]


@pytest.mark.parametrize(
    ("project", "title"),
    [
        ("Season 1", "Season 1"),
        ("A/B: [final]?", "A-B- -final--"),
        ("'quoted'", "quoted"),
        ("  spaced   out ", "spaced out"),
        ("x" * 150, "x" * 100),
        ("///", "---"),
    ],
)
def test_tab_titles_carry_no_character_a_tab_name_cannot(project: str, title: str) -> None:
    assert tab_title(project) == title


def test_a1_ranges_quote_the_tab() -> None:
    assert a1_range("Season 1", "A1:P1") == "'Season 1'!A1:P1"
    assert a1_range("It's", "G:G") == "'It''s'!G:G"


@pytest.mark.parametrize(
    "text",
    [
        SHEET_ID,
        f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=0",
        f"https://docs.google.com/spreadsheets/d/{SHEET_ID}",
        f"  https://DOCS.google.com/spreadsheets/d/{SHEET_ID}/edit?usp=sharing ",
    ],
)
def test_spreadsheet_links_and_ids_are_read(text: str) -> None:
    assert spreadsheet_id_of(text) == SHEET_ID


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short",
        f"http://docs.google.com/spreadsheets/d/{SHEET_ID}/edit",
        f"https://docs.google.com.evil.example/spreadsheets/d/{SHEET_ID}",
        f"https://drive.google.com/file/d/{SHEET_ID}/view",
        "https://docs.google.com/spreadsheets/d/../../x",
        f"{SHEET_ID}/../x",
    ],
)
def test_anything_else_is_not_a_spreadsheet(text: str) -> None:
    with pytest.raises(SpreadsheetIdInvalid, match="not a Google Sheets link"):
        spreadsheet_id_of(text)


def test_the_layout_freezes_the_header_and_colours_each_status() -> None:
    requests = setup_requests(42)
    kinds = [next(iter(r)) for r in requests]
    assert kinds == ["updateSheetProperties", "repeatCell", *["addConditionalFormatRule"] * 3]
    values = [
        r["addConditionalFormatRule"]["rule"]["booleanRule"]["condition"]["values"][0]
        for r in requests[2:]
    ]
    assert [v["userEnteredValue"] for v in values] == ["PASS", "FAIL", "REVIEW"]
    assert all(
        r[kinds[i]].get("range", {}).get("sheetId", 42) == 42 for i, r in enumerate(requests)
    )
