"""``FakeSheets``: the part of the Google Sheets v4 API the export speaks, kept in memory.

The fake Google server (:mod:`tests.fakes.google_server`) hands every ``/v4/spreadsheets…``
request to :meth:`FakeSheets.handle` with the caller's Google account (from the bearer token).
It keeps each spreadsheet's grid — values, cell formats, frozen rows, conditional format rules —
so a test reads the cells and colours a person would see (:meth:`Tab.background` applies the
rules as Sheets does). What it answers, as Google does:

* ``GET  /v4/spreadsheets/{id}`` — properties and each sheet's properties;
* ``POST /v4/spreadsheets/{id}:batchUpdate`` — ``addSheet``, ``repeatCell``,
  ``updateSheetProperties`` (frozen rows), ``addConditionalFormatRule``; an unknown request is
  a 400, and a failing request changes nothing (the batch is atomic);
* ``GET  /v4/spreadsheets/{id}/values/{range}`` — trailing empty rows and cells trimmed;
* ``PUT  /v4/spreadsheets/{id}/values/{range}`` and ``POST …/values:batchUpdate`` (they need
  ``valueInputOption``), ``POST …/values/{range}:append`` (after the last row with data);
* 404 for an unknown spreadsheet, 403 for an account it is not shared with, 401 without an
  account, 429 on demand (:meth:`FakeSheets.fail`).
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

Reply = tuple[int, dict[str, Any]]
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26
_CELL = re.compile(r"([A-Z]*)([0-9]*)")


class SheetsFault(Exception):
    """An error reply, raised inside a handler and answered as Google's error JSON."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def error_reply(status: int, message: str) -> Reply:
    """Google's error body."""
    body = {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}
    return status, {"error": body}


@dataclass
class Tab:
    """One sheet (tab) of a spreadsheet: cells by (row, column), 0-based."""

    sheet_id: int
    title: str
    index: int
    rows: int = DEFAULT_ROWS
    columns: int = DEFAULT_COLUMNS
    frozen_rows: int = 0
    values: dict[tuple[int, int], Any] = field(default_factory=dict)
    formats: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)

    def grid(self) -> list[list[Any]]:
        """Every row down to the last with a value, each as long as the widest (empty: "")."""
        if not self.values:
            return []
        height = max(r for r, _ in self.values) + 1
        width = max(c for _, c in self.values) + 1
        return [[self.values.get((r, c), "") for c in range(width)] for r in range(height)]

    def row(self, row: int) -> list[Any]:
        """One row (0-based), trailing empty cells trimmed."""
        cells = [self.values.get((row, c), "") for c in range(self.columns)]
        while cells and cells[-1] == "":
            cells.pop()
        return cells

    def background(self, row: int, column: int) -> dict[str, float] | None:
        """The colour a person sees: the first conditional rule that matches, else the cell's
        own background."""
        value = self.values.get((row, column), "")
        for rule in self.rules:
            if any(_inside(g, row, column) for g in rule.get("ranges", [])):
                boolean = rule.get("booleanRule") or {}
                if _condition_holds(boolean.get("condition") or {}, value):
                    colour: dict[str, float] | None = (boolean.get("format") or {}).get(
                        "backgroundColor"
                    )
                    return colour
        own: dict[str, float] | None = self.formats.get((row, column), {}).get("backgroundColor")
        return own

    def properties(self) -> dict[str, Any]:
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": {
                "rowCount": self.rows,
                "columnCount": self.columns,
                **({"frozenRowCount": self.frozen_rows} if self.frozen_rows else {}),
            },
        }


@dataclass
class Spreadsheet:
    id: str
    title: str
    editors: set[str]
    tabs: list[Tab]

    def tab(self, title: str) -> Tab:
        for tab in self.tabs:
            if tab.title == title:
                return tab
        raise SheetsFault(400, f"Unable to parse range: {title}")

    def tab_by_id(self, sheet_id: int) -> Tab:
        for tab in self.tabs:
            if tab.sheet_id == sheet_id:
                return tab
        raise SheetsFault(400, f"No grid with id: {sheet_id}")


@dataclass(frozen=True)
class A1:
    """A parsed A1 range: the tab, first row/column and last (None: open), 0-based."""

    tab: Tab
    row0: int
    col0: int
    row1: int | None
    col1: int | None


class FakeSheets:
    """Spreadsheets in memory (see the module docstring). Thread-safe: one lock."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.calls: list[tuple[str, str, str | None]] = []  # (method, path, account)
        self._faults: list[tuple[re.Pattern[str], int]] = []
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # --- test hooks -----------------------------------------------------------------------

    def add_spreadsheet(self, owner: str, title: str = "QC results") -> str:
        """A new spreadsheet with one empty tab ``Sheet1``, editable by ``owner``; its id."""
        with self._lock:
            spreadsheet_id = f"sheet{next(self._ids):04d}" + "x" * 30
            tab = Tab(sheet_id=0, title="Sheet1", index=0)
            self.spreadsheets[spreadsheet_id] = Spreadsheet(spreadsheet_id, title, {owner}, [tab])
            return spreadsheet_id

    def add_tab(self, spreadsheet_id: str, title: str, rows: list[list[Any]] | None = None) -> Tab:
        """A tab someone made by hand, with ``rows`` of values from A1."""
        with self._lock:
            book = self.spreadsheets[spreadsheet_id]
            tab = Tab(max(t.sheet_id for t in book.tabs) + 1, title, len(book.tabs))
            _write(tab, 0, 0, rows or [])
            book.tabs.append(tab)
            return tab

    def share(self, spreadsheet_id: str, email: str) -> None:
        with self._lock:
            self.spreadsheets[spreadsheet_id].editors.add(email)

    def fail(self, status: int = 429, times: int = 1, path_regex: str = ".*") -> None:
        """Answer the next ``times`` requests whose path matches with ``status``."""
        with self._lock:
            self._faults.extend([(re.compile(path_regex), status)] * times)

    def tab(self, spreadsheet_id: str, title: str) -> Tab:
        """A tab, for assertions."""
        with self._lock:
            return self.spreadsheets[spreadsheet_id].tab(title)

    def titles(self, spreadsheet_id: str) -> list[str]:
        with self._lock:
            return [t.title for t in self.spreadsheets[spreadsheet_id].tabs]

    # --- the API --------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        body: dict[str, Any] | None,
        email: str | None,
    ) -> Reply:
        """One request; ``path`` from ``/v4/spreadsheets`` on, as sent (percent-encoded)."""
        with self._lock:
            self.calls.append((method, path, email))
            fault = next((f for f in self._faults if f[0].search(path)), None)
            if fault is not None:
                self._faults.remove(fault)
                return error_reply(fault[1], "Quota exceeded (injected by the test).")
            try:
                return self._route(method, path, query, body or {}, email)
            except SheetsFault as exc:
                return error_reply(exc.status, str(exc))

    def _route(
        self, method: str, path: str, query: dict[str, Any], body: dict[str, Any], email: str | None
    ) -> Reply:
        tail = path.split("/spreadsheets/", 1)[-1] if "/spreadsheets/" in path else ""
        head, _, rest = tail.partition("/")
        spreadsheet_id, _, action = unquote(head).partition(":")
        book = self._open(spreadsheet_id, email)
        if not rest:
            if method == "GET" and not action:
                return 200, self._get(book)
            if method == "POST" and action == "batchUpdate":
                return 200, self._batch_update(book, body.get("requests") or [])
        elif rest == "values:batchUpdate" and method == "POST":
            _input_option(body.get("valueInputOption"))
            data = body.get("data") or []
            return 200, self._values_batch(book, data)
        elif rest.startswith("values/"):
            a1_text, _, verb = unquote(rest[len("values/") :]).rpartition(":")
            if not a1_text or verb not in ("append",):
                a1_text, verb = unquote(rest[len("values/") :]), ""
            return self._values(book, method, verb, a1_text, query, body)
        raise SheetsFault(404, f"Method not found: {method} {path}")

    def _open(self, spreadsheet_id: str, email: str | None) -> Spreadsheet:
        if email is None:
            raise SheetsFault(401, "Request had invalid authentication credentials.")
        book = self.spreadsheets.get(spreadsheet_id)
        if book is None:
            raise SheetsFault(404, "Requested entity was not found.")
        if email not in book.editors:
            raise SheetsFault(403, "The caller does not have permission")
        return book

    def _get(self, book: Spreadsheet) -> dict[str, Any]:
        return {
            "spreadsheetId": book.id,
            "properties": {"title": book.title},
            "sheets": [
                {"properties": t.properties(), "conditionalFormats": copy.deepcopy(t.rules)}
                for t in book.tabs
            ],
        }

    # --- batchUpdate ----------------------------------------------------------------------

    def _batch_update(self, book: Spreadsheet, requests: list[dict[str, Any]]) -> dict[str, Any]:
        saved = copy.deepcopy(book.tabs)  # all or nothing, as Google does
        try:
            replies = [self._one_request(book, i, r) for i, r in enumerate(requests)]
        except SheetsFault:
            book.tabs = saved
            raise
        return {"spreadsheetId": book.id, "replies": replies}

    def _one_request(self, book: Spreadsheet, i: int, request: dict[str, Any]) -> dict[str, Any]:
        if len(request) != 1:
            raise SheetsFault(400, f"Invalid requests[{i}]: exactly one kind of request")
        kind, args = next(iter(request.items()))
        if kind == "addSheet":
            return {"addSheet": {"properties": self._add_sheet(book, args["properties"])}}
        if kind == "repeatCell":
            self._repeat_cell(book, args)
        elif kind == "updateSheetProperties":
            self._update_properties(book, args)
        elif kind == "addConditionalFormatRule":
            rule = args["rule"]
            for grid in rule.get("ranges", []):
                book.tab_by_id(grid.get("sheetId", 0))
            tab = book.tab_by_id(rule["ranges"][0].get("sheetId", 0))
            tab.rules.insert(int(args.get("index", len(tab.rules))), copy.deepcopy(rule))
        else:
            raise SheetsFault(400, f"Invalid requests[{i}]: unknown request {kind!r}")
        return {}

    def _add_sheet(self, book: Spreadsheet, props: dict[str, Any]) -> dict[str, Any]:
        title = str(props.get("title") or f"Sheet{len(book.tabs) + 1}")
        if any(t.title.lower() == title.lower() for t in book.tabs):
            raise SheetsFault(
                400,
                f'Invalid requests[0].addSheet: A sheet with the name "{title}" already exists. '
                "Please enter another name.",
            )
        taken = {t.sheet_id for t in book.tabs}
        sheet_id = int(props.get("sheetId", max(taken, default=0) + 1))
        if sheet_id in taken:
            raise SheetsFault(400, f"Invalid requests[0].addSheet: sheet id {sheet_id} is taken")
        grid = props.get("gridProperties") or {}
        tab = Tab(
            sheet_id=sheet_id,
            title=title,
            index=len(book.tabs),
            rows=int(grid.get("rowCount", DEFAULT_ROWS)),
            columns=int(grid.get("columnCount", DEFAULT_COLUMNS)),
            frozen_rows=int(grid.get("frozenRowCount", 0)),
        )
        book.tabs.append(tab)
        return tab.properties()

    def _repeat_cell(self, book: Spreadsheet, args: dict[str, Any]) -> None:
        grid = args["range"]
        tab = book.tab_by_id(grid.get("sheetId", 0))
        fmt = (args.get("cell") or {}).get("userEnteredFormat") or {}
        if not str(args.get("fields", "")).startswith("userEnteredFormat"):
            raise SheetsFault(400, "Invalid repeatCell: fields must name what is set")
        rows = range(grid.get("startRowIndex", 0), grid.get("endRowIndex", tab.rows))
        columns = range(grid.get("startColumnIndex", 0), grid.get("endColumnIndex", tab.columns))
        for cell in itertools.product(rows, columns):
            tab.formats[cell] = {**tab.formats.get(cell, {}), **copy.deepcopy(fmt)}

    def _update_properties(self, book: Spreadsheet, args: dict[str, Any]) -> None:
        props = args["properties"]
        tab = book.tab_by_id(props.get("sheetId", 0))
        fields = str(args.get("fields", ""))
        if "gridProperties.frozenRowCount" in fields:
            tab.frozen_rows = int((props.get("gridProperties") or {}).get("frozenRowCount", 0))
        if "title" in fields.split(","):
            tab.title = str(props["title"])

    # --- values ---------------------------------------------------------------------------

    def _values(
        self,
        book: Spreadsheet,
        method: str,
        verb: str,
        a1_text: str,
        query: dict[str, Any],
        body: dict[str, Any],
    ) -> Reply:
        a1 = parse_a1(book, a1_text)
        if method == "GET" and not verb:
            return 200, {"range": a1_text, "majorDimension": "ROWS", **_read(a1)}
        _input_option(_one(query, "valueInputOption"))
        rows = body.get("values") or []
        if method == "PUT" and not verb:
            return 200, {"spreadsheetId": book.id, **_write(a1.tab, a1.row0, a1.col0, rows)}
        if method == "POST" and verb == "append":
            start = _end_of_table(a1)
            written = _write(a1.tab, start, a1.col0, rows)
            return 200, {"spreadsheetId": book.id, "updates": written}
        raise SheetsFault(404, f"Method not found: {method} values")

    def _values_batch(self, book: Spreadsheet, data: list[dict[str, Any]]) -> dict[str, Any]:
        parsed = [(parse_a1(book, str(d["range"])), d.get("values") or []) for d in data]
        replies = [_write(a1.tab, a1.row0, a1.col0, rows) for a1, rows in parsed]
        cells = sum(r["updatedCells"] for r in replies)
        return {"spreadsheetId": book.id, "totalUpdatedCells": cells, "responses": replies}


def parse_a1(book: Spreadsheet, text: str) -> A1:
    """``'Tab name'!A2:P``, ``Tab!G:G``, ``A1:P1`` (the first tab) …"""
    if "!" in text:
        name, _, cells = text.rpartition("!")
        if name.startswith("'") and name.endswith("'") and len(name) >= 2:
            name = name[1:-1].replace("''", "'")
        tab = book.tab(name)
    else:
        tab, cells = book.tabs[0], text
        if not _CELL.fullmatch(cells.split(":")[0]):
            tab, cells = book.tab(text), ""
    if not cells:
        return A1(tab, 0, 0, None, None)
    first, _, last = cells.partition(":")
    row0, col0 = _cell(first, 0)
    if not last:
        return A1(tab, row0, col0, row0, col0)
    row1, col1 = _cell(last, None)
    return A1(tab, row0, col0, row1, col1)


def _cell(text: str, default: int | None) -> tuple[Any, Any]:
    found = _CELL.fullmatch(text)
    if found is None or not (found.group(1) or found.group(2)):
        raise SheetsFault(400, f"Unable to parse range: {text}")
    letters, digits = found.groups()
    col = default
    if letters:
        col = 0
        for letter in letters:
            col = col * 26 + (ord(letter) - 64)
        col -= 1
    row = int(digits) - 1 if digits else default
    return row, col


def _inside(grid: dict[str, Any], row: int, col: int) -> bool:
    rows = range(grid.get("startRowIndex", 0), grid.get("endRowIndex", 10**9))
    columns = range(grid.get("startColumnIndex", 0), grid.get("endColumnIndex", 10**9))
    return row in rows and col in columns


def _condition_holds(condition: dict[str, Any], value: Any) -> bool:
    wanted = [str(v.get("userEnteredValue", "")) for v in condition.get("values", [])]
    if condition.get("type") == "TEXT_EQ":
        return bool(wanted) and str(value) == wanted[0]
    raise SheetsFault(400, f"condition type not supported by the fake: {condition.get('type')}")


def _one(query: dict[str, Any], name: str) -> str | None:
    value = query.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _input_option(value: Any) -> None:
    if value not in ("RAW", "USER_ENTERED"):
        raise SheetsFault(400, "Invalid valueInputOption: use RAW or USER_ENTERED")


def _read(a1: A1) -> dict[str, Any]:
    tab = a1.tab
    last_row = max((r for r, _ in tab.values), default=-1)
    row1 = last_row if a1.row1 is None else min(a1.row1, last_row)
    col1 = tab.columns - 1 if a1.col1 is None else a1.col1
    rows = []
    for row in range(a1.row0, row1 + 1):
        cells = [_formatted(tab.values.get((row, c), "")) for c in range(a1.col0, col1 + 1)]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    while rows and not rows[-1]:
        rows.pop()
    return {"values": rows} if rows else {}


def _formatted(value: Any) -> str:
    """FORMATTED_VALUE, the default render: every value as text."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _write(tab: Tab, row0: int, col0: int, rows: list[list[Any]]) -> dict[str, Any]:
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None or value == "":
                tab.values.pop((row0 + r, col0 + c), None)
            else:
                tab.values[(row0 + r, col0 + c)] = value
    width = max((len(r) for r in rows), default=0)
    tab.rows = max(tab.rows, row0 + len(rows))
    return {
        "updatedRange": f"'{tab.title}'!R{row0 + 1}C{col0 + 1}",
        "updatedRows": len(rows),
        "updatedColumns": width,
        "updatedCells": sum(len(r) for r in rows),
    }


def _end_of_table(a1: A1) -> int:
    """The first row after the last one with a value in the range's columns."""
    col1 = a1.tab.columns - 1 if a1.col1 is None else a1.col1
    used = [r for r, c in a1.tab.values if r >= a1.row0 and a1.col0 <= c <= col1]
    return max(used, default=a1.row0 - 1) + 1
