"""The Google Sheets export on real SQLite and PostgreSQL, with the real OAuth, token and Sheets
clients talking to the fake Google over loopback HTTP: the 16-column tab laid out and coloured,
PASS and FAIL rows, a re-export that updates (never duplicates) and keeps what people wrote in
I–N, one tab per project, 429 retried, the sentences for a missing connection or export, and
the on-completion export through the store's finished-jobs feed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kickflow.api.background import SheetsExportLoop, sheets_loop
from kickflow.config import Settings
from kickflow.errors import (
    GoogleAccessDenied,
    GoogleNotConnected,
    ReportNotReady,
    SheetsExportNotConfigured,
    SheetsExportOff,
    SheetsScopeMissing,
    SpreadsheetAccessDenied,
    SpreadsheetNotFound,
    SpreadsheetTabInUse,
)
from kickflow.integrations.google.oauth import OAuthClient
from kickflow.integrations.google.sheets_export import (
    COLUMNS,
    HEADER_COLOUR,
    STATUS_COLOURS,
    SheetsExporter,
)
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import DRIVE_SCOPE, ORG_OWNER, SHEETS_SCOPE
from kickflow.jobs import Job, SqlJobStore
from kickflow.jobs.sheet_exports import SheetExport, SheetExportConfig
from tests.fakes.google_server import FakeGoogle
from tests.fixtures_server import wait_for

REDIRECT = "http://127.0.0.1:8000/settings/google/callback"
OWNER, STRANGER = "qc@studio.example", "someone@else.example"
PROJECT = "Season 1"
STATUS = COLUMNS.index("Status")


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as g:
        g.add_user(OWNER)
        g.add_user(STRANGER)
        yield g


@pytest.fixture
def settings(job_settings: Settings, google: FakeGoogle) -> Settings:
    overrides = {**google.settings_overrides(), "google_sheets_export": True}
    return job_settings.model_copy(update={**overrides, "secret_key": "sheets test key"})


@pytest.fixture
def sql(settings: Settings) -> Iterator[SqlJobStore]:
    store = SqlJobStore(settings.database_url, settings)
    try:
        yield store
    finally:
        store.close()


@dataclasses.dataclass
class Setup:
    g: FakeGoogle
    sql: SqlJobStore
    settings: Settings
    org: str
    connection_id: str
    spreadsheet: str
    exporter: SheetsExporter

    def export(self, project: str = PROJECT, on_completion: bool = False) -> SheetExport:
        config = SheetExportConfig(
            self.spreadsheet, "Vendor A", "The Series", self.connection_id, on_completion
        )
        return self.sql.save_sheet_export(self.org, project, config)

    def tab(self, title: str = PROJECT) -> Any:
        return self.g.sheets.tab(self.spreadsheet, title)


def connect(g: FakeGoogle, settings: Settings, tokens: GoogleTokens, org: str, scopes: Any) -> str:
    client = OAuthClient(settings)
    request = client.authorization_request(REDIRECT, scopes)
    back = parse_qs(urlsplit(g.approve_url(request.url, OWNER)).query)
    grant = client.exchange_code(back["code"][0], request.code_verifier, REDIRECT)
    return tokens.connect(org, ORG_OWNER, grant, OWNER).id


@pytest.fixture
def setup(google: FakeGoogle, sql: SqlJobStore, settings: Settings) -> Setup:
    org = sql.ensure_org()
    tokens = GoogleTokens(sql, settings)
    connection_id = connect(google, settings, tokens, org, (DRIVE_SCOPE, SHEETS_SCOPE))
    spreadsheet = google.sheets.add_spreadsheet(OWNER)
    exporter = SheetsExporter(sql, settings, tokens)
    return Setup(google, sql, settings, org, connection_id, spreadsheet, exporter)


def finding(severity: str, message: str, tc: str | None = None) -> dict[str, Any]:
    return {"check": "x", "severity": severity, "message": message, "timecode_start": tc}


def finish(
    s: Setup,
    file_name: str,
    verdict: str,
    findings: list[dict[str, Any]] | None = None,
    project: str = PROJECT,
) -> Job:
    """A job through the queue to a completed result, as a worker would report it."""
    parts = None
    if file_name.count("-") >= 3:
        code, episode, lang, _ = file_name.split("-", 3)
        parts = {"code": code, "episode": int(episode[2:]), "lang": lang}
    s.sql.enqueue(s.org, "path", f"/media/{file_name}", file_name=file_name, project=project)
    claimed = s.sql.claim("w-sheets", limit=1)
    assert len(claimed) == 1
    report = {
        "verdict": verdict,
        "findings": findings or [],
        "delivery": {"file_name": file_name, "file_name_parts": parts},
    }
    return s.sql.complete(claimed[0].lease, verdict, report)


def test_first_export_lays_out_the_tab_with_pass_and_fail_rows(setup: Setup) -> None:
    setup.export()
    passed = finish(setup, "ABC-EP001-en-final.mov", "passed")
    failed = finish(
        setup,
        "ABC-EP002-fr-final.mov",
        "failed",
        [
            finding("error", "Integrated loudness -18.0 LUFS", "10:00:01:12"),
            finding("info", "not shown"),
            finding("warning", "Black frames\nfor 2.0 s", "10:00:05:00"),
        ],
    )
    result = setup.exporter.export_project(setup.org, PROJECT)
    assert (result.added, result.updated, result.tab) == (2, 0, PROJECT)
    tab = setup.tab()
    assert tab.row(0) == list(COLUMNS), "the 16 columns A–P"
    assert tab.frozen_rows == 1
    header = tab.formats[(0, 0)]
    assert header["textFormat"]["bold"] is True and header["backgroundColor"] == HEADER_COLOUR
    rows = {tab.values[(r, 6)]: r for r in (1, 2)}
    first, second = rows[passed.file_name], rows[failed.file_name]
    assert tab.row(first)[:7] == [
        "ABC", PROJECT, "The Series", "en", "Vendor A", 1, passed.file_name,
    ]  # fmt: skip
    assert tab.row(first)[STATUS] == "PASS"
    assert tab.row(second)[7] == (
        "[ERROR] 10:00:01:12 Integrated loudness -18.0 LUFS\n"
        "[WARNING] 10:00:05:00 Black frames for 2.0 s"
    )
    assert tab.row(second)[STATUS] == "FAIL" and tab.row(second)[5] == 2
    day = datetime.fromtimestamp(passed.finished_at or 0.0, UTC).date().isoformat()
    assert tab.row(first)[15] == day, "QC Date: the UTC day QC finished"
    assert tab.background(first, STATUS) == STATUS_COLOURS["PASS"], "PASS is green"
    assert tab.background(second, STATUS) == STATUS_COLOURS["FAIL"], "FAIL is red"
    assert tab.background(second, 0) is None
    assert result.url.endswith(f"/d/{setup.spreadsheet}/edit#gid={tab.sheet_id}")
    writes = [r for r in setup.g.requests if r.path.startswith("/v4/") and r.method != "GET"]
    assert all(r.query.get("valueInputOption") in (None, "RAW") for r in writes)
    assert all(r.email == OWNER for r in setup.g.requests if r.path.startswith("/v4/"))


def test_reexport_updates_rows_and_keeps_what_people_wrote(setup: Setup) -> None:
    setup.export()
    job = finish(setup, "ABC-EP001-en-final.mov", "failed", [finding("error", "Too loud")])
    setup.exporter.export_project(setup.org, PROJECT)
    tab = setup.tab()
    human = {8: "Vendor says fixed", 9: "v2.mov", 10: "ok now", 11: "v2.srt", 12: "final", 13: "x"}
    for col, text in human.items():
        tab.values[(1, col)] = text
    setup.sql.retry(setup.org, job.id)  # the vendor redelivered: QC runs again and passes
    claimed = setup.sql.claim("w-sheets", limit=1)
    setup.sql.complete(claimed[0].lease, "passed", {**(job.report or {}), "findings": []})
    again = setup.exporter.export_project(setup.org, PROJECT)
    assert (again.added, again.updated) == (0, 1)
    third = setup.exporter.export_job(setup.org, job.id)
    assert (third.added, third.updated) == (0, 1)
    tab = setup.tab()
    assert len(tab.grid()) == 2, "one header, one row: never a duplicate"
    assert tab.row(1)[STATUS] == "PASS" and tab.row(1)[7] == ""
    assert {col: tab.values.get((1, col)) for col in human} == human, "I–N untouched"


def test_one_tab_per_project(setup: Setup) -> None:
    setup.export(PROJECT)
    setup.export("Season 2: finale")
    finish(setup, "ABC-EP001-en-final.mov", "passed")
    finish(setup, "ABC-EP001-en-final.mov", "needs_review", project="Season 2: finale")
    setup.exporter.export_project(setup.org, PROJECT)
    setup.exporter.export_project(setup.org, "Season 2: finale")
    setup.exporter.export_project(setup.org, PROJECT)
    assert setup.g.sheets.titles(setup.spreadsheet) == ["Sheet1", PROJECT, "Season 2- finale"]
    assert setup.tab(PROJECT).row(1)[STATUS] == "PASS"
    review = setup.tab("Season 2- finale")
    assert review.row(1)[STATUS] == "REVIEW" and review.row(1)[1] == "Season 2: finale"
    assert review.background(1, STATUS) == STATUS_COLOURS["REVIEW"]
    assert len(setup.tab(PROJECT).rules) == 3, "the layout is made once per tab"


def test_rate_limited_requests_are_retried(setup: Setup) -> None:
    setup.export()
    finish(setup, "ABC-EP001-en-final.mov", "passed")
    setup.g.fail(r"^/v4/spreadsheets", 429, times=2, retry_after="0")
    setup.g.sheets.fail(429, times=1, path_regex=r":append$")
    result = setup.exporter.export_project(setup.org, PROJECT)
    assert result.added == 1
    statuses = [r.status for r in setup.g.requests if r.path.startswith("/v4/")]
    assert statuses[:2] == [429, 429] and statuses.count(429) == 3
    assert setup.tab().row(1)[STATUS] == "PASS"


def test_refusals_are_sentences(setup: Setup) -> None:
    with pytest.raises(SheetsExportNotConfigured, match="no Google Sheets export"):
        setup.exporter.export_project(setup.org, PROJECT)
    export = setup.export()
    queued = setup.sql.enqueue(setup.org, "path", "/m/q.mov", file_name="q.mov", project=PROJECT)
    with pytest.raises(ReportNotReady, match="this job is queued"):
        setup.exporter.export_job(setup.org, queued.id)
    loose = setup.sql.enqueue(setup.org, "path", "/m/l.mov", file_name="l.mov")
    with pytest.raises(SheetsExportNotConfigured, match="This job has no project"):
        setup.exporter.export_job(setup.org, loose.id)
    off = SheetsExporter(
        setup.sql, setup.settings.model_copy(update={"google_sheets_export": False})
    )
    with pytest.raises(SheetsExportOff, match="KICKFLOW_GOOGLE_SHEETS_EXPORT"):
        off.export_project(setup.org, PROJECT)
    hidden = setup.g.sheets.add_spreadsheet(STRANGER)
    setup.sql.save_sheet_export(
        setup.org, PROJECT, dataclasses.replace(export.config, spreadsheet_id=hidden)
    )
    with pytest.raises(SpreadsheetAccessDenied, match="share it with that account"):
        setup.exporter.export_project(setup.org, PROJECT)
    gone = dataclasses.replace(export.config, spreadsheet_id="1" * 44)
    setup.sql.save_sheet_export(setup.org, PROJECT, gone)
    with pytest.raises(SpreadsheetNotFound, match="Spreadsheet not found"):
        setup.exporter.export_project(setup.org, PROJECT)
    assert setup.exporter.tokens.disconnect(setup.org, setup.connection_id)
    with pytest.raises(GoogleNotConnected, match="connect Google Drive in Settings"):
        setup.exporter.export_project(setup.org, PROJECT)
    assert setup.g.sheets.titles(setup.spreadsheet) == ["Sheet1"], "nothing written anywhere"


def test_a_connection_without_the_sheets_scope_is_refused(setup: Setup) -> None:
    other = setup.sql.ensure_org("drive only")
    tokens = GoogleTokens(setup.sql, setup.settings)
    drive_only = connect(setup.g, setup.settings, tokens, other, (DRIVE_SCOPE,))
    config = SheetExportConfig(setup.spreadsheet, "V", "S", drive_only, False)
    setup.sql.save_sheet_export(other, PROJECT, config)
    with pytest.raises(SheetsScopeMissing, match="reconnect Google Drive in Settings"):
        SheetsExporter(setup.sql, setup.settings, tokens).export_project(other, PROJECT)
    assert not [r for r in setup.g.requests if r.path.startswith("/v4/")]


def test_on_completion_follows_the_finished_jobs_feed(setup: Setup) -> None:
    before = finish(setup, "ABC-EP009-en-old.mov", "passed")  # before the export existed
    setup.export(on_completion=True)
    setup.export("Other", on_completion=False)
    finish(setup, "ABC-EP001-en-final.mov", "passed")
    finish(setup, "ABC-EP002-en-final.mov", "failed", [finding("error", "Too loud", "00:00:01:00")])
    finish(setup, "ABC-EP003-en-final.mov", "passed", project="Other")
    assert setup.exporter.export_finished() == 2
    assert setup.exporter.export_finished() == 0, "the cursor moved: nothing twice"
    tab = setup.tab()
    files = [row[6] for row in tab.grid()[1:]]
    assert sorted(files) == ["ABC-EP001-en-final.mov", "ABC-EP002-en-final.mov"]
    assert before.file_name not in files
    assert "Other" not in setup.g.sheets.titles(setup.spreadsheet), "not on completion"

    setup.g.fail(r"^/v4/spreadsheets", 403, times=1)
    finish(setup, "ABC-EP004-en-final.mov", "passed")
    assert setup.exporter.export_finished() == 0
    failed = setup.sql.sheet_export(setup.org, PROJECT)
    assert failed is not None and failed.last_error is not None
    assert "share it with that account" in failed.last_error
    assert setup.exporter.export_finished() == 1, "the batch was given back and went out"
    done = setup.sql.sheet_export(setup.org, PROJECT)
    assert done is not None and done.last_error is None
    assert len(setup.tab().grid()) == 4


def test_the_service_loop_runs_the_export_pass(setup: Setup) -> None:
    setup.export(on_completion=True)
    finish(setup, "ABC-EP001-en-final.mov", "passed")
    SheetsExportLoop(setup.exporter, interval=60.0).run_once()
    assert setup.tab().row(1)[6] == "ABC-EP001-en-final.mov"

    loop = SheetsExportLoop(setup.exporter, interval=0.05).start()
    try:
        finish(setup, "ABC-EP002-en-final.mov", "failed")
        wait_for(lambda: len(setup.tab().grid()) == 3, 60.0, "the loop exports the second job")
    finally:
        loop.stop()
    assert setup.tab().row(2)[STATUS] == "FAIL"


def test_the_service_starts_the_loop_only_when_the_export_is_on(setup: Setup) -> None:
    assert isinstance(sheets_loop(setup.sql), SheetsExportLoop)
    off = SqlJobStore(
        setup.settings.database_url,
        setup.settings.model_copy(update={"google_sheets_export": False}),
    )
    try:
        assert sheets_loop(off) is None
    finally:
        off.close()


def test_an_expired_token_is_refreshed_once_and_a_revoked_grant_is_the_reconnect_sentence(
    setup: Setup,
) -> None:
    setup.export()
    finish(setup, "ABC-EP001-en-final.mov", "passed")
    setup.exporter.export_project(setup.org, PROJECT)
    setup.g.expire_access_tokens()  # Google forgot the token before its stated expiry
    tokens_before = sum(1 for r in setup.g.requests if r.path == "/token")
    assert setup.exporter.export_project(setup.org, PROJECT).updated == 1
    assert sum(1 for r in setup.g.requests if r.path == "/token") == tokens_before + 1
    setup.g.revoke_grants(OWNER)
    setup.g.expire_access_tokens()
    with pytest.raises(GoogleAccessDenied, match="reconnect Google Drive in Settings"):
        setup.exporter.export_project(setup.org, PROJECT)
    connection = setup.sql.google_connection_by_id(setup.org, setup.connection_id)
    assert connection is not None and connection.status == "refresh_failed"


def test_a_tab_made_by_hand_is_used_and_one_holding_other_data_is_refused(setup: Setup) -> None:
    setup.export()
    finish(setup, "ABC-EP001-en-final.mov", "passed")
    by_hand = setup.g.sheets.add_tab(setup.spreadsheet, "season 1")  # empty, other case
    result = setup.exporter.export_project(setup.org, PROJECT)
    assert (result.tab, result.added) == ("season 1", 1)
    assert by_hand.row(0) == list(COLUMNS) and by_hand.frozen_rows == 1
    assert setup.g.sheets.titles(setup.spreadsheet) == ["Sheet1", "season 1"]

    setup.export("Budget")
    finish(setup, "ABC-EP002-en-final.mov", "passed", project="Budget")
    setup.g.sheets.add_tab(setup.spreadsheet, "Budget", [["Item", "Cost"], ["Lunch", 12]])
    with pytest.raises(SpreadsheetTabInUse, match="rename that tab"):
        setup.exporter.export_project(setup.org, "Budget")
    assert setup.tab("Budget").grid() == [["Item", "Cost"], ["Lunch", 12]], "left as it was"
