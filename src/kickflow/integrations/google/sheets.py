"""Google Sheets v4 for one connection's token: the few calls the QC export makes.

Values are always written with ``valueInputOption=RAW``: a file name or a finding is text a
vendor chose, and ``USER_ENTERED`` would run one starting with ``=`` as a formula. 429 and 5xx
(and the 403s Google uses for quotas) are retried with backoff honouring Retry-After; a 401
refreshes the token once. Refusals become the product's sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from kickflow.config import Settings
from kickflow.errors import (
    GoogleAccessDenied,
    GoogleUnavailable,
    SheetsRequestRefused,
    SpreadsheetAccessDenied,
    SpreadsheetNotFound,
)
from kickflow.integrations.google.oauth import Backoff, google_error, is_retryable, send_with_retry
from kickflow.integrations.google.types import AccessTokenSource

RAW = {"valueInputOption": "RAW"}
UNAVAILABLE = "Google Sheets cannot be reached right now: try the export again in a few minutes."


@dataclass(frozen=True)
class SheetTab:
    """One tab of a spreadsheet, as ``spreadsheets.get`` describes it."""

    sheet_id: int
    title: str
    frozen_rows: int


def a1_range(title: str, cells: str = "") -> str:
    """``'Tab'!A1:P1`` — the tab name always quoted (a ``'`` in it doubled)."""
    quoted = "'" + title.replace("'", "''") + "'"
    return f"{quoted}!{cells}" if cells else quoted


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if response.is_success:
        return
    if status == 404:
        raise SpreadsheetNotFound()
    if status == 403:
        raise SpreadsheetAccessDenied()
    if status == 401:
        raise GoogleAccessDenied()
    message, _ = google_error(response)
    detail = f": {message.rstrip('.')}" if message else f" (HTTP {status})"
    raise SheetsRequestRefused(f"Google Sheets refused the request{detail}.")


class SheetsClient:
    """Sheets v4 on behalf of one Google connection."""

    def __init__(
        self,
        settings: Settings,
        tokens: AccessTokenSource,
        transport: httpx.BaseTransport | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.transport = transport
        self.backoff = backoff or Backoff.from_settings(settings)
        self.base = settings.google_sheets_url.rstrip("/") + "/spreadsheets/"

    def tabs(self, spreadsheet_id: str) -> list[SheetTab]:
        """``spreadsheets.get``: the spreadsheet's tabs (SpreadsheetNotFound, …AccessDenied)."""
        body = self._call("GET", spreadsheet_id, "", {"fields": "sheets.properties"})
        found = []
        for sheet in body.get("sheets") or []:
            props = sheet.get("properties") or {}
            grid = props.get("gridProperties") or {}
            found.append(
                SheetTab(
                    int(props.get("sheetId", 0)),
                    str(props.get("title", "")),
                    int(grid.get("frozenRowCount", 0)),
                )
            )
        return found

    def batch_update(self, spreadsheet_id: str, requests: Sequence[dict[str, Any]]) -> list[Any]:
        """``spreadsheets.batchUpdate`` (atomic at Google); the replies, one per request."""
        body = self._call("POST", spreadsheet_id, ":batchUpdate", json={"requests": requests})
        replies: list[Any] = body.get("replies") or []
        return replies

    def values(self, spreadsheet_id: str, cells: str) -> list[list[str]]:
        """``values.get`` of an A1 range: rows of text (trailing empty cells left out)."""
        body = self._call("GET", spreadsheet_id, "/values/" + quote(cells, safe=""))
        return [[str(v) for v in row] for row in body.get("values") or []]

    def write(self, spreadsheet_id: str, ranges: Sequence[tuple[str, list[list[Any]]]]) -> None:
        """``values.batchUpdate``: each (A1 range, rows) written as given (RAW)."""
        if not ranges:
            return
        data = [{"range": r, "majorDimension": "ROWS", "values": rows} for r, rows in ranges]
        self._call("POST", spreadsheet_id, "/values:batchUpdate", json={**RAW, "data": data})

    def update(self, spreadsheet_id: str, cells: str, rows: list[list[Any]]) -> None:
        """``values.update`` of one A1 range (RAW)."""
        path = "/values/" + quote(cells, safe="")
        self._call("PUT", spreadsheet_id, path, RAW, json={"range": cells, "values": rows})

    def append(self, spreadsheet_id: str, cells: str, rows: list[list[Any]]) -> None:
        """``values.append``: ``rows`` after the last row with data in ``cells`` (RAW, new
        rows inserted, so nothing below is overwritten)."""
        if not rows:
            return
        path = "/values/" + quote(cells, safe="") + ":append"
        params = {**RAW, "insertDataOption": "INSERT_ROWS"}
        self._call("POST", spreadsheet_id, path, params, json={"values": rows})

    # --- plumbing -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        spreadsheet_id: str,
        suffix: str,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = self.base + quote(spreadsheet_id, safe="") + suffix
        with httpx.Client(
            transport=self.transport, timeout=self.settings.google_timeout_seconds
        ) as client:
            response = self._send(client, method, url, params, json, force=False)
            if response.status_code == 401:  # expired early or revoked: one forced refresh
                response = self._send(client, method, url, params, json, force=True)
            _raise_for_status(response)
        try:
            body = response.json()
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    def _send(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        params: dict[str, str] | None,
        json: dict[str, Any] | None,
        *,
        force: bool,
    ) -> httpx.Response:
        token = self.tokens.access_token(force_refresh=force)
        headers = {"Authorization": f"Bearer {token}"}

        def send() -> httpx.Response:
            request = client.build_request(method, url, params=params, json=json, headers=headers)
            response = client.send(request)
            response.read()
            return response

        try:
            return send_with_retry(send, self.backoff, is_retryable)
        except GoogleUnavailable as exc:
            raise GoogleUnavailable(UNAVAILABLE) from exc
