"""QC results to Google Sheets: one tab per project, one row per delivered file, in the layout
the studio's sheets already use (16 columns, A–P).

The service writes only its own columns (A–H, O–P: what the file is, what QC found, the status
and the date); I–N are for people (notes, rectified files, client notes) and are never written
once a row exists. Rows are matched by Source File within the tab, so exporting again updates a
row and never adds a second one. Code, EP# and Language come from the parts of the file name
the profile's ``[delivery] file_name`` convention parsed (the report's ``delivery`` section);
Vendor and Series Title from the project's export settings.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

import httpx

from kickflow.config import Settings
from kickflow.errors import (
    GoogleNotConnected,
    KickflowError,
    ReportNotReady,
    SheetsExportNotConfigured,
    SheetsExportOff,
    SheetsScopeMissing,
    SpreadsheetIdInvalid,
    SpreadsheetTabInUse,
)
from kickflow.integrations.google.sheets import SheetsClient, a1_range
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import SHEETS_SCOPE
from kickflow.jobs import Job, JobState, JobStore
from kickflow.jobs.sheet_exports import (
    SPREADSHEET_ID,
    SheetExport,
    SheetExportConfig,
    check_config,
    check_project,
)

log = logging.getLogger("kickflow.sheets")

COLUMNS = (
    "Code", "Project", "Series Title", "Language", "Vendor", "EP#", "Source File", "QC Issues",
    "Additional Notes", "Rectified Video", "QC-2 Comments", "Rectified SRT", "Final Video",
    "Client Notes", "Status", "QC Date",
)  # fmt: skip
SOURCE_FILE = COLUMNS.index("Source File")
STATUS_COLUMN = COLUMNS.index("Status")
# The service's columns as (A1 letters, first index, end index); I–N belong to people.
MACHINE_SPANS = (("A", "H", 0, 8), ("O", "P", 14, 16))
STATUS_BY_VERDICT = {"passed": "PASS", "failed": "FAIL", "needs_review": "REVIEW"}
STATUS_COLOURS = {
    "PASS": {"red": 0.718, "green": 0.882, "blue": 0.804},
    "FAIL": {"red": 0.957, "green": 0.780, "blue": 0.765},
    "REVIEW": {"red": 0.988, "green": 0.910, "blue": 0.698},
}
HEADER_COLOUR = {"red": 0.204, "green": 0.267, "blue": 0.345}
WHITE = {"red": 1.0, "green": 1.0, "blue": 1.0}
MAX_ISSUES = 30  # lines in a QC Issues cell; the rest is counted
MAX_ISSUE_CHARS = 300
MAX_PROJECT_JOBS = 5000  # an on-demand export of one project
TAB_TITLE_MAX = 100
_TAB_UNSAFE = re.compile(r"[\[\]*?:/\\]")
_PARTS = {"code": ("code",), "episode": ("episode", "ep"), "language": ("lang", "language")}
_tab_locks: dict[tuple[str, str], threading.Lock] = {}
_tab_locks_guard = threading.Lock()


@dataclass(frozen=True)
class ExportResult:
    """What one export wrote."""

    spreadsheet_id: str
    tab: str
    sheet_id: int
    added: int
    updated: int

    @property
    def url(self) -> str:
        return (
            f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit#gid={self.sheet_id}"
        )


# --- pure: names, rows --------------------------------------------------------------------


def tab_title(project: str) -> str:
    """The project's tab: its name without the characters a tab name cannot carry."""
    title = _TAB_UNSAFE.sub("-", " ".join(project.split())).strip("'").strip()
    return title[:TAB_TITLE_MAX] or "Project"


def spreadsheet_id_of(text: str) -> str:
    """The id in a spreadsheet link (``https://docs.google.com/spreadsheets/d/<id>/…``), or a
    bare id; SpreadsheetIdInvalid for anything else."""
    text = text.strip()
    if SPREADSHEET_ID.fullmatch(text):
        return text
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise SpreadsheetIdInvalid() from exc
    found = re.fullmatch(r"/spreadsheets/d/([A-Za-z0-9_-]+)(?:/.*)?", parts.path)
    if parts.scheme != "https" or parts.netloc.lower() != "docs.google.com" or not found:
        raise SpreadsheetIdInvalid()
    if not SPREADSHEET_ID.fullmatch(found.group(1)):
        raise SpreadsheetIdInvalid()
    return found.group(1)


def file_name_part(report: dict[str, Any], name: str) -> str | int:
    """A part of the file name (``code``, ``episode``, ``language``) under the profile's
    convention; "" when there is none."""
    parts = (report.get("delivery") or {}).get("file_name_parts") or {}
    for key in _PARTS[name]:
        value = parts.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and value != "":
            return value
    return ""


def qc_issues(report: dict[str, Any]) -> str:
    """The errors and warnings, one line each with where they start (source timecode when the
    file has one); at most MAX_ISSUES lines."""
    found = [f for f in report.get("findings") or [] if f.get("severity") in ("error", "warning")]
    lines = [_issue_line(f) for f in found[:MAX_ISSUES]]
    if len(found) > MAX_ISSUES:
        lines.append(f"… and {len(found) - MAX_ISSUES} more (see the QC report)")
    return "\n".join(lines)


def _issue_line(finding: dict[str, Any]) -> str:
    where = finding.get("timecode_start") or finding.get("timecode")
    label = "ERROR" if finding.get("severity") == "error" else "WARNING"
    message = " ".join(str(finding.get("message") or "").split())
    line = f"[{label}] {where} {message}" if where else f"[{label}] {message}"
    return line if len(line) <= MAX_ISSUE_CHARS else line[: MAX_ISSUE_CHARS - 1] + "…"


def qc_date(job: Job) -> str:
    """The day QC finished (UTC), ISO: sorts as text and reads everywhere."""
    at = job.finished_at or job.updated_at
    return datetime.fromtimestamp(at, UTC).date().isoformat()


def source_file(job: Job) -> str:
    return PurePath(job.file_name).name


def sheet_row(job: Job, export: SheetExport) -> list[Any]:
    """The job's 16 cells (the people's columns empty)."""
    report = job.report or {}
    row: list[Any] = [""] * len(COLUMNS)
    row[0] = file_name_part(report, "code")
    row[1] = job.project or export.project
    row[2] = export.series_title
    row[3] = file_name_part(report, "language")
    row[4] = export.vendor
    row[5] = file_name_part(report, "episode")
    row[SOURCE_FILE] = source_file(job)
    row[7] = qc_issues(report)
    row[STATUS_COLUMN] = STATUS_BY_VERDICT.get(job.verdict or "", "REVIEW")
    row[15] = qc_date(job)
    return row


def latest_per_file(jobs: Sequence[Job]) -> list[Job]:
    """The completed jobs with a report, the last to finish for each source file."""
    done = [j for j in jobs if j.state is JobState.COMPLETED and j.report is not None]
    done.sort(key=lambda j: (j.finished_at or 0.0, j.id))
    return list({source_file(j): j for j in done}.values())


# --- the tab ------------------------------------------------------------------------------


def setup_requests(sheet_id: int) -> list[dict[str, Any]]:
    """Header row frozen, bold and dark; Status coloured by value (rules, so a person's later
    edit of a status recolours it too)."""
    header = {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1}
    header |= {"startColumnIndex": 0, "endColumnIndex": len(COLUMNS)}
    fmt = {
        "backgroundColor": HEADER_COLOUR,
        "textFormat": {"bold": True, "foregroundColor": WHITE},
        "horizontalAlignment": "CENTER",
    }
    status = {"sheetId": sheet_id, "startRowIndex": 1}
    status |= {"startColumnIndex": STATUS_COLUMN, "endColumnIndex": STATUS_COLUMN + 1}
    requests: list[dict[str, Any]] = [
        {
            "updateSheetProperties": {
                "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
                "fields": "gridProperties.frozenRowCount",
            }
        },
        {
            "repeatCell": {
                "range": header,
                "cell": {"userEnteredFormat": fmt},
                "fields": "userEnteredFormat(backgroundColor,textFormat,horizontalAlignment)",
            }
        },
    ]
    for i, (value, colour) in enumerate(STATUS_COLOURS.items()):
        condition = {"type": "TEXT_EQ", "values": [{"userEnteredValue": value}]}
        rule = {
            "ranges": [status],
            "booleanRule": {"condition": condition, "format": {"backgroundColor": colour}},
        }
        requests.append({"addConditionalFormatRule": {"rule": rule, "index": i}})
    return requests


@dataclass(frozen=True)
class _Tab:
    sheet_id: int
    title: str  # as the spreadsheet spells it
    rows: list[list[Any]]  # what is in A:P, the header first


def _tab_lock(spreadsheet_id: str, title: str) -> threading.Lock:
    with _tab_locks_guard:
        return _tab_locks.setdefault((spreadsheet_id, title), threading.Lock())


def _new_sheet_id(taken: set[int]) -> int:
    """A free sheet id, chosen here so the tab's layout goes in the same batch as its creation."""
    while True:
        sheet_id = random.randrange(1, 2**31 - 1)  # noqa: S311 - an id, not a secret
        if sheet_id not in taken:
            return sheet_id


def _prepare_tab(client: SheetsClient, spreadsheet_id: str, title: str) -> _Tab:
    """The project's tab with its rows, created and laid out when missing. Sheets compares tab
    names ignoring case, and so does this: a tab someone renamed "season 1" is still found."""
    tabs = client.tabs(spreadsheet_id)
    found = next((t for t in tabs if t.title.casefold() == title.casefold()), None)
    if found is None:
        sheet_id = _new_sheet_id({t.sheet_id for t in tabs})
        add = {"addSheet": {"properties": {"sheetId": sheet_id, "title": title}}}
        client.batch_update(spreadsheet_id, [add, *setup_requests(sheet_id)])
        client.update(spreadsheet_id, a1_range(title, "A1:P1"), [list(COLUMNS)])
        return _Tab(sheet_id, title, [list(COLUMNS)])
    rows: list[list[Any]] = list(client.values(spreadsheet_id, a1_range(found.title, "A:P")))
    if not rows or not any(rows[0]):  # an empty tab of that name: lay it out
        client.batch_update(spreadsheet_id, setup_requests(found.sheet_id))
        client.update(spreadsheet_id, a1_range(found.title, "A1:P1"), [list(COLUMNS)])
        return _Tab(found.sheet_id, found.title, [list(COLUMNS), *rows[1:]])
    header = rows[0]
    if len(header) <= SOURCE_FILE or header[SOURCE_FILE] != COLUMNS[SOURCE_FILE]:
        raise SpreadsheetTabInUse()
    return _Tab(found.sheet_id, found.title, rows)


def _sheet_writes(
    index: dict[str, int], title: str, rows: Sequence[list[Any]]
) -> tuple[list[tuple[str, list[list[Any]]]], list[list[Any]]]:
    """Updates of the machine columns of rows already there, and the rows to append."""
    updates: list[tuple[str, list[list[Any]]]] = []
    fresh: list[list[Any]] = []
    for row in rows:
        at = index.get(str(row[SOURCE_FILE]))
        if at is None:
            fresh.append(row)
            continue
        for first, last, start, end in MACHINE_SPANS:
            updates.append((a1_range(title, f"{first}{at}:{last}{at}"), [row[start:end]]))
    return updates, fresh


def sync_rows(
    client: SheetsClient, spreadsheet_id: str, title: str, rows: Sequence[list[Any]]
) -> ExportResult:
    """Write ``rows`` into the tab: matched by Source File, machine columns only for a row
    already there, new ones appended (serialised per tab in this process)."""
    with _tab_lock(spreadsheet_id, title.casefold()):
        tab = _prepare_tab(client, spreadsheet_id, title)
        index: dict[str, int] = {}
        for number, cells in enumerate(tab.rows[1:], start=2):
            if len(cells) > SOURCE_FILE and cells[SOURCE_FILE]:
                index.setdefault(str(cells[SOURCE_FILE]), number)
        updates, fresh = _sheet_writes(index, tab.title, rows)
        client.write(spreadsheet_id, updates)
        client.append(spreadsheet_id, a1_range(tab.title, "A:P"), fresh)
    added, updated = len(fresh), len(rows) - len(fresh)
    return ExportResult(spreadsheet_id, tab.title, tab.sheet_id, added, updated)


# --- the exporter -------------------------------------------------------------------------


class SheetsExporter:
    """Exports one organisation's QC results with the Google connection each project's
    export names."""

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        tokens: GoogleTokens | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.tokens = tokens or GoogleTokens(store, settings)
        self.transport = transport

    def client_for(self, export: SheetExport) -> SheetsClient:
        """A Sheets client on the export's connection, once it may be used for Sheets."""
        if not self.settings.google_sheets_export:
            raise SheetsExportOff()
        connection = self.store.google_connection_by_id(export.org_id, export.connection_id)
        if connection is None:
            raise GoogleNotConnected(
                "The Google connection this export uses is gone: connect Google Drive in "
                "Settings and save the project's Sheets export again."
            )
        if SHEETS_SCOPE not in connection.scopes:
            raise SheetsScopeMissing()
        source = self.tokens.access_source(export.org_id, export.connection_id)
        return SheetsClient(self.settings, source, self.transport)

    def check(self, org_id: str, project: str, config: SheetExportConfig) -> None:
        """Refuse a config that cannot work, with its sentence: Sheets export off, the
        connection gone or without the Sheets scope, the spreadsheet missing or not shared
        (one call to Google)."""
        check_project(project)
        check_config(config)
        draft = SheetExport(
            org_id=org_id, project=project, **dataclasses.asdict(config), cursor=None,
            last_error=None, last_export_at=None, created_at=0.0, updated_at=0.0,
        )  # fmt: skip
        self.client_for(draft).tabs(config.spreadsheet_id)

    def export_jobs(self, export: SheetExport, jobs: Sequence[Job]) -> ExportResult:
        """Write the jobs' rows (the latest result per file) to the project's tab."""
        rows = [sheet_row(j, export) for j in latest_per_file(jobs)]
        client = self.client_for(export)
        title = tab_title(export.project)
        return sync_rows(client, export.spreadsheet_id, title, rows)

    def export_job(self, org_id: str, job_id: str) -> ExportResult:
        """One job's result, on demand."""
        job = self.store.get(org_id, job_id)
        if not job.project:
            raise SheetsExportNotConfigured(
                "This job has no project: only jobs of a project with a Google Sheets export "
                "can be exported."
            )
        export = self.require(org_id, job.project)
        if job.state is not JobState.COMPLETED or job.report is None:
            raise ReportNotReady(
                f"Only a finished QC result can be exported: this job is {job.state.value}."
            )
        return self.export_jobs(export, [job])

    def export_project(self, org_id: str, project: str) -> ExportResult:
        """Every completed job of the project (the latest per file), on demand."""
        export = self.require(org_id, project)
        return self.export_jobs(export, self._project_jobs(org_id, project))

    def require(self, org_id: str, project: str) -> SheetExport:
        export = self.store.sheet_export(org_id, project)
        if export is None:
            raise SheetsExportNotConfigured()
        return export

    def _project_jobs(self, org_id: str, project: str) -> list[Job]:
        ids: list[str] = []
        cursor: str | None = None
        while len(ids) < MAX_PROJECT_JOBS:
            page = self.store.list_jobs(
                org_id, state="completed", project=project, cursor=cursor, limit=200
            )
            ids.extend(j.id for j in page.jobs)
            cursor = page.next_cursor
            if cursor is None:
                break
        found: list[Job] = []
        for start in range(0, len(ids), 100):
            found.extend(self.store.jobs_by_ids(org_id, ids[start : start + 100]))
        return found

    # --- on completion --------------------------------------------------------------------

    def export_finished(self, batch: int = 100) -> int:
        """One pass of the service loop: every on-completion export follows the finished-jobs
        feed from its cursor; rows written. Failures are recorded on the export, not raised."""
        if not self.settings.google_sheets_export:
            return 0
        written = 0
        for export in self.store.sheet_exports_on_completion():
            try:
                written += self._follow(export, batch)
            except KickflowError as exc:  # the store itself: next pass
                log.warning("sheets export of %s failed: %s", export.project, exc.message)
        return written

    def _follow(self, export: SheetExport, batch: int) -> int:
        feed = self.store.finished_jobs_after(export.org_id, export.cursor, batch)
        if not feed:
            return 0
        last = feed[-1]
        to = (last.finished_at or 0.0, last.id)
        org, project = export.org_id, export.project
        if not self.store.move_sheet_export_cursor(org, project, export.cursor, to):
            return 0  # another service node took this batch
        mine = [j for j in feed if j.project == project]
        if not latest_per_file(mine):
            return 0
        try:
            result = self.export_jobs(export, mine)
        except Exception as exc:
            # Give the batch back: the next pass tries it again (the reason is on the export).
            if export.cursor is not None:
                self.store.move_sheet_export_cursor(org, project, to, export.cursor)
            self.store.note_sheet_export(org, project, _reason(exc))
            return 0
        self.store.note_sheet_export(org, project, None)
        return result.added + result.updated


def _reason(exc: Exception) -> str:
    """What is recorded on the export: our sentence, or a plain one for the unexpected (whose
    details go to the log only)."""
    if isinstance(exc, KickflowError):
        return exc.message
    log.error("sheets export failed unexpectedly", exc_info=exc)
    return "The export failed unexpectedly; it is tried again shortly."
