"""``/api/qc/projects/{project}/sheets``: a project's Google Sheets export (admins set it up,
members export on demand) and ``/api/qc/jobs/{id}/export/sheets``: one job's row now.

The export writes with a Google connection of the organisation: for a dashboard session the
admin's own (``connection: "mine"``, the default there), for an API token the
organisation-level one (``connection: "organisation"``, the only one a token has). Saving
checks, with one call to Google, that the connection may use Sheets and can open the
spreadsheet, so a wrong link or a missing share is a sentence at once rather than a failed
export later. See docs/google-sheets.md for the columns.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field

from kickflow.api.auth import Admin, Member, Viewer
from kickflow.api.context import Services, Svc
from kickflow.api.routes.jobs import caller_user_id
from kickflow.api.schemas import ID_PATTERN, TEXT_PATTERN, Body
from kickflow.api.tokens import Principal
from kickflow.api.views import iso
from kickflow.errors import GoogleNotConnected, RequestInvalid
from kickflow.integrations.google.sheets_export import (
    ExportResult,
    SheetsExporter,
    spreadsheet_id_of,
    tab_title,
)
from kickflow.integrations.google.types import ORG_OWNER, GoogleConnection
from kickflow.jobs.sheet_exports import SheetExport, SheetExportConfig

router = APIRouter(prefix="/api/qc", tags=["sheets"])
ProjectPath = Annotated[str, Path(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
JobIdPath = Annotated[str, Path(pattern=ID_PATTERN)]
Text = Annotated[str, Field(max_length=200, pattern=TEXT_PATTERN)]
NOT_CONNECTED = {
    "mine": "Google Drive is not connected for you: connect Google Drive in Settings first.",
    "organisation": (
        "This organisation has no Google Drive connection: an admin connects one for the "
        "organisation in Settings first."
    ),
}


class SheetsConfigBody(Body):
    """A project's export: the spreadsheet (its link or id) and what every row says."""

    spreadsheet: Annotated[str, Field(min_length=1, max_length=500, pattern=TEXT_PATTERN)]
    vendor: Text = ""
    series_title: Text = Field("", alias="seriesTitle")
    on_completion: bool = Field(True, alias="onCompletion")
    connection: Literal["mine", "organisation"] | None = None


def _exporter(svc: Services) -> SheetsExporter:
    return SheetsExporter(svc.store, svc.settings)


def _connection(
    request: Request, svc: Services, principal: Principal, wanted: str | None
) -> GoogleConnection:
    """The connection the export will use (never another user's or organisation's)."""
    user_id = caller_user_id(request, principal)
    level = wanted or ("mine" if user_id else "organisation")
    if level == "mine" and user_id is None:
        raise RequestInvalid(
            'connection: an API token belongs to no user; use "organisation" (the '
            "organisation's Google connection)"
        )
    owner = user_id if level == "mine" and user_id else ORG_OWNER
    connection = svc.store.google_connection(principal.org_id, owner)
    if connection is None:
        raise GoogleNotConnected(NOT_CONNECTED[level])
    return connection


def export_view(export: SheetExport, connection: GoogleConnection | None) -> dict[str, Any]:
    """An export as the API shows it (the connection by who it is, never a token)."""
    return {
        "project": export.project,
        "tab": tab_title(export.project),
        "spreadsheetId": export.spreadsheet_id,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{export.spreadsheet_id}/edit",
        "vendor": export.vendor,
        "seriesTitle": export.series_title,
        "onCompletion": export.on_completion,
        "connection": None
        if connection is None
        else {
            "id": connection.id,
            "email": connection.email,
            "level": "organisation" if connection.user_id == ORG_OWNER else "user",
        },
        "lastError": export.last_error,
        "lastExportAt": iso(export.last_export_at),
        "updatedAt": iso(export.updated_at),
    }


def result_view(result: ExportResult) -> dict[str, Any]:
    return {
        "spreadsheetId": result.spreadsheet_id,
        "tab": result.tab,
        "added": result.added,
        "updated": result.updated,
        "url": result.url,
    }


@router.get("/projects/{project}/sheets", summary="The project's Google Sheets export")
def get_sheets(project: ProjectPath, principal: Viewer, svc: Svc) -> dict[str, Any]:
    export = _exporter(svc).require(principal.org_id, project)
    connection = svc.store.google_connection_by_id(principal.org_id, export.connection_id)
    return export_view(export, connection)


@router.put("/projects/{project}/sheets", summary="Set up or change the export (admin)")
def put_sheets(
    project: ProjectPath, body: SheetsConfigBody, request: Request, principal: Admin, svc: Svc
) -> dict[str, Any]:
    spreadsheet_id = spreadsheet_id_of(body.spreadsheet)
    connection = _connection(request, svc, principal, body.connection)
    config = SheetExportConfig(
        spreadsheet_id, body.vendor.strip(), body.series_title.strip(), connection.id,
        body.on_completion,
    )  # fmt: skip
    _exporter(svc).check(principal.org_id, project, config)
    saved = svc.store.save_sheet_export(principal.org_id, project, config)
    return export_view(saved, connection)


@router.delete(
    "/projects/{project}/sheets", status_code=204, summary="Stop exporting the project (admin)"
)
def delete_sheets(project: ProjectPath, principal: Admin, svc: Svc) -> Response:
    if not svc.store.delete_sheet_export(principal.org_id, project):
        _exporter(svc).require(principal.org_id, project)  # the sentence for "none"
    return Response(status_code=204)


@router.post(
    "/projects/{project}/sheets/export",
    summary="Export every completed job of the project now (the latest result per file)",
)
def export_project(project: ProjectPath, principal: Member, svc: Svc) -> dict[str, Any]:
    return result_view(_exporter(svc).export_project(principal.org_id, project))


@router.post(
    "/jobs/{job_id}/export/sheets", summary="Export one job's result to its project's sheet"
)
def export_job(job_id: JobIdPath, principal: Member, svc: Svc) -> dict[str, Any]:
    return result_view(_exporter(svc).export_job(principal.org_id, job_id))
