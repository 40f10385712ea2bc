"""A local stand-in for Google (OAuth 2.0, Drive v3, Sheets v4) on 127.0.0.1.

A real HTTP server (threads, real sockets) that the real clients talk to:

- OAuth: ``GET /o/oauth2/v2/auth`` checks the request (client id, redirect URI, state, PKCE
  S256, scopes) and renders a consent page whose Allow/Deny buttons redirect back with ``code``
  or ``error=access_denied``; ``POST /token`` (authorization_code with the PKCE verifier,
  refresh_token) and ``POST /revoke``.
- Drive v3 under ``/drive/v3``: ``files/{id}`` metadata, ``alt=media`` with ``Range``,
  ``files?q='<id>' in parents and trashed=false`` with paging (small pages on purpose), and
  ``about``. A file is visible only to its owner and to the people it (or a folder above it) is
  shared with; files on a shared drive only with ``supportsAllDrives=true``.
- Sheets v4 under ``/v4/spreadsheets``: handed to ``tests.fakes.google_sheets.FakeSheets``.

Faults on demand: ``fail(path_regex, status, ...)``, ``revoke_grants(email)``,
``expire_access_tokens()``, ``drop_download_after(n)`` (the connection closes mid-body) and
``expire_tokens_after_bytes(n)``. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from kickflow.integrations.google.types import DRIVE_SCOPE, FOLDER_MIME, SHEETS_SCOPE

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
AUTH_PATH = "/o/oauth2/v2/auth"
CONSENT_PATH = "/o/oauth2/v2/consent"
KNOWN_SCOPES = frozenset({DRIVE_SCOPE, SHEETS_SCOPE, "openid", "email"})
LIST_QUERY_RE = re.compile(r"'([A-Za-z0-9_-]+)' in parents and trashed\s*=\s*false")
RANGE_RE = re.compile(r"bytes=(\d+)-(\d*)")
BODY_CHUNK = 16 * 1024
INVALID_GRANT = {"error": "invalid_grant", "error_description": "Bad Request"}


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as the fake saw it (what tests assert on)."""

    method: str
    path: str
    query: dict[str, str]
    email: str | None  # whose bearer token it carried (None: none or unknown)
    range: str | None
    body_size: int
    status: int


@dataclass
class Grant:
    email: str
    scopes: tuple[str, ...]
    refresh_token: str
    revoked: bool = False


@dataclass
class Access:
    grant: Grant
    expires_at: float

    @property
    def live(self) -> bool:
        return not self.grant.revoked and time.time() < self.expires_at


@dataclass
class Code:
    email: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]


@dataclass
class Item:
    """A Drive file or folder."""

    id: str
    owner: str
    name: str
    mime: str
    data: bytes = b""
    parent: str | None = None
    drive_id: str | None = None
    shared: set[str] = field(default_factory=set)
    trashed: bool = False
    md5: str | None = None  # what Drive reports; None: the real MD5 of data

    def metadata(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime,
        }
        if not self.mime.startswith("application/vnd.google-apps."):
            body["size"] = str(len(self.data))
            body["md5Checksum"] = self.md5 or hashlib.md5(self.data).hexdigest()
        if self.drive_id:
            body["driveId"] = self.drive_id
        return body


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: str | None
    body: dict[str, Any] | None


def new_id() -> str:
    return secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _fields(spec: str | None) -> set[str] | None:
    """The names in a ``fields`` selector, loosely (nesting ignored); None: Drive's default."""
    return set(re.findall(r"\w+", spec)) if spec else None


def _select(body: dict[str, Any], names: set[str] | None) -> dict[str, Any]:
    if names is None:
        return {k: v for k, v in body.items() if k in {"kind", "id", "name", "mimeType"}}
    return {k: v for k, v in body.items() if k in names}


def drive_error(status: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


# --- the server -------------------------------------------------------------------------------


class FakeGoogle:
    """The running fake: ``url``, ``env()``/``settings_overrides()``, setup and fault methods."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.access_ttl = 3600
        self.max_page_size = 2  # small on purpose: every folder listing pages
        self.users: set[str] = set()
        self.codes: dict[str, Code] = {}
        self.grants: dict[str, Grant] = {}  # by refresh token
        self.access: dict[str, Access] = {}  # by access token
        self.items: dict[str, Item] = {}
        self.faults: list[Fault] = []
        self.auth_queries: list[dict[str, str]] = []
        self._requests: list[Request] = []
        self._drops: list[int] = []  # one byte count per download to cut
        self._expire_after: int | None = None
        self.sheets: Any = _load_sheets()
        handler = type("Handler", (_Handler,), {"google": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    # lifecycle

    def start(self) -> FakeGoogle:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # configuration

    def settings_overrides(self) -> dict[str, Any]:
        """Settings fields pointing every Google client at this fake (fast retries too)."""
        return {
            "google_client_id": self.client_id,
            "google_client_secret": self.client_secret,
            "google_auth_url": self.url + AUTH_PATH,
            "google_token_url": self.url + "/token",
            "google_revoke_url": self.url + "/revoke",
            "google_drive_url": self.url + "/drive/v3",
            "google_sheets_url": self.url + "/v4",
            "google_retry_base_seconds": 0.001,
            "google_retry_max_seconds": 0.01,
        }

    def env(self) -> dict[str, str]:
        return {f"KICKFLOW_{k.upper()}": str(v) for k, v in self.settings_overrides().items()}

    # people and files

    def add_user(self, email: str) -> str:
        with self.lock:
            self.users.add(email)
        return email

    def add_file(
        self,
        owner: str,
        name: str,
        data: bytes,
        mime: str = "video/mp4",
        parent: str | None = None,
        drive_id: str | None = None,
    ) -> str:
        return self._add(Item(new_id(), owner, name, mime, data, parent, drive_id))

    def add_folder(
        self, owner: str, name: str, parent: str | None = None, drive_id: str | None = None
    ) -> str:
        return self._add(Item(new_id(), owner, name, FOLDER_MIME, b"", parent, drive_id))

    def add_native(
        self, owner: str, name: str, mime: str = "application/vnd.google-apps.document"
    ) -> str:
        return self._add(Item(new_id(), owner, name, mime))

    def share(self, file_id: str, email: str) -> None:
        with self.lock:
            self.items[file_id].shared.add(email)

    def trash(self, file_id: str) -> None:
        with self.lock:
            self.items[file_id].trashed = True

    def set_md5(self, file_id: str, md5: str) -> None:
        """Make Drive report a checksum that the bytes do not have."""
        with self.lock:
            self.items[file_id].md5 = md5

    def _add(self, item: Item) -> str:
        with self.lock:
            self.users.add(item.owner)
            self.items[item.id] = item
        return item.id

    # faults

    def fail(
        self,
        path_regex: str,
        status: int,
        times: int = 1,
        retry_after: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """The next ``times`` requests whose path (``?query`` included) matches get ``status``."""
        with self.lock:
            self.faults.append(Fault(re.compile(path_regex), status, times, retry_after, body))

    def revoke_grants(self, email: str) -> None:
        with self.lock:
            for grant in self.grants.values():
                if grant.email == email:
                    grant.revoked = True

    def expire_access_tokens(self) -> None:
        with self.lock:
            for access in self.access.values():
                access.expires_at = 0.0

    def drop_download_after(self, n_bytes: int, times: int = 1) -> None:
        """The next ``times`` downloads close the connection after ``n_bytes`` of body."""
        with self.lock:
            self._drops.extend([n_bytes] * times)

    def expire_tokens_after_bytes(self, n_bytes: int) -> None:
        """The next download's token expires after ``n_bytes`` (the connection drops there)."""
        with self.lock:
            self._expire_after = n_bytes

    # reading back

    @property
    def requests(self) -> list[Request]:
        with self.lock:
            return list(self._requests)

    def record(self, request: Request) -> None:
        with self.lock:
            self._requests.append(request)

    def take_fault(self, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.times > 0 and fault.pattern.search(target):
                    fault.times -= 1
                    return fault
        return None

    def take_cut(self) -> tuple[int | None, bool]:
        """Where to cut the next download body, and whether its token expires there."""
        with self.lock:
            drop = self._drops.pop(0) if self._drops else None
            expire, self._expire_after = self._expire_after, None
        cuts = [n for n in (drop, expire) if n is not None]
        return (min(cuts) if cuts else None), expire is not None

    # OAuth logic

    def check_auth_request(self, query: dict[str, str]) -> str | None:
        """Why an authorisation request is refused, or None when it is fine."""
        scopes = query.get("scope", "").split()
        problems = [
            (query.get("client_id") != self.client_id, "unknown client_id"),
            (not query.get("redirect_uri"), "missing redirect_uri"),
            (query.get("response_type") != "code", "response_type must be code"),
            (len(query.get("code_challenge", "")) < 43, "missing PKCE code_challenge"),
            (query.get("code_challenge_method") != "S256", "code_challenge_method must be S256"),
            (not query.get("state"), "missing state"),
            (not scopes or not set(scopes) <= KNOWN_SCOPES, "bad scope"),
        ]
        return next((why for bad, why in problems if bad), None)

    def approve(self, query: dict[str, str], email: str) -> str:
        """The redirect target after ``email`` allowed the request."""
        with self.lock:
            if email not in self.users:
                raise ValueError(f"unknown user {email}")
            code = new_id()
            self.codes[code] = Code(
                email,
                query["redirect_uri"],
                query["code_challenge"],
                tuple(query["scope"].split()),
            )
        return _with_query(query["redirect_uri"], code=code, state=query["state"])

    def approve_url(self, auth_url: str, email: str) -> str:
        """What the consent page's Allow button would redirect to (for non-browser tests)."""
        query = _flat(parse_qs(urlsplit(auth_url).query))
        why = self.check_auth_request(query)
        if why:
            raise ValueError(why)
        return self.approve(query, email)

    def deny_url(self, auth_url: str) -> str:
        query = _flat(parse_qs(urlsplit(auth_url).query))
        return _with_query(query["redirect_uri"], error="access_denied", state=query["state"])

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint's answer to one form."""
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                return self._exchange(form)
            if grant_type == "refresh_token":
                return self._refresh(form.get("refresh_token", ""))
        return 400, {"error": "unsupported_grant_type"}

    def _exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        code = self.codes.pop(form.get("code", ""), None)
        if (
            code is None
            or code.redirect_uri != form.get("redirect_uri")
            or s256(form.get("code_verifier", "")) != code.challenge
        ):
            return 400, INVALID_GRANT
        grant = Grant(code.email, code.scopes, "1//" + new_id())
        self.grants[grant.refresh_token] = grant
        return 200, {**self._issue(grant), "refresh_token": grant.refresh_token}

    def _refresh(self, refresh_token: str) -> tuple[int, dict[str, Any]]:
        grant = self.grants.get(refresh_token)
        if grant is None or grant.revoked:
            return 400, {**INVALID_GRANT, "error_description": "Token has been expired or revoked."}
        return 200, self._issue(grant)

    def _issue(self, grant: Grant) -> dict[str, Any]:
        token = "ya29." + new_id()
        self.access[token] = Access(grant, time.time() + self.access_ttl)
        return {
            "access_token": token,
            "expires_in": self.access_ttl,
            "scope": " ".join(grant.scopes),
            "token_type": "Bearer",
        }

    def revoke(self, token: str) -> bool:
        with self.lock:
            grant = self.grants.get(token)
            if grant is None and token in self.access:
                grant = self.access[token].grant
            if grant is None or grant.revoked:
                return False
            grant.revoked = True
            return True

    def bearer(self, header: str | None) -> Access | None:
        """The access token (live or not) an Authorization header carries."""
        with self.lock:
            return self.access.get((header or "").removeprefix("Bearer "))

    # Drive logic

    def visible(self, item: Item, email: str, all_drives: bool) -> bool:
        if item.drive_id and not all_drives:
            return False
        node: Item | None = item
        while node is not None:
            if node.owner == email or email in node.shared:
                return True
            node = self.items.get(node.parent) if node.parent else None
        return False

    def children(self, folder_id: str, email: str, all_drives: bool) -> list[Item]:
        with self.lock:
            return [
                item
                for item in self.items.values()
                if item.parent == folder_id
                and not item.trashed
                and self.visible(item, email, all_drives)
            ]


def _flat(query: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in query.items()}


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _load_sheets() -> Any:
    try:
        from tests.fakes.google_sheets import FakeSheets
    except ImportError:
        return None
    return FakeSheets()


# --- HTTP -------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    google: FakeGoogle
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        self.route, self.query = parts.path, _flat(parse_qs(parts.query, keep_blank_values=True))
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = self.google.take_fault(self.path)
        if fault is not None:
            return self._fault(fault)
        return self._route()

    def _route(self) -> None:
        route, method = self.route, self.command
        if route == AUTH_PATH and method == "GET":
            return self._consent_page()
        if route == CONSENT_PATH and method == "POST":
            return self._consent_decision()
        if route == "/token" and method == "POST":
            return self._json(*self.google.token(self._form()))
        if route == "/revoke" and method == "POST":
            token = self.query.get("token") or self._form().get("token", "")
            ok = self.google.revoke(token)
            return self._json(200, {}) if ok else self._json(400, {"error": "invalid_token"})
        if route.startswith("/drive/v3/") or route.startswith("/v4/spreadsheets"):
            return self._api()
        return self._json(404, {"error": {"code": 404, "message": "Not Found"}})

    # OAuth pages

    def _consent_page(self) -> None:
        self.google.auth_queries.append(dict(self.query))
        why = self.google.check_auth_request(self.query)
        if why:
            return self._html(400, f"<h1>Error 400: invalid_request</h1><p>{html.escape(why)}</p>")
        options = "".join(
            f'<option value="{html.escape(u)}">{html.escape(u)}</option>'
            for u in sorted(self.google.users)
        )
        request = html.escape(urlencode(self.query))
        page = (
            "<h1>Sign in</h1>"
            f'<form method="post" action="{CONSENT_PATH}">'
            f'<input type="hidden" name="request" value="{request}">'
            f'<label>Sign in as <select name="email" id="email">{options}</select></label>'
            '<button type="submit" name="decision" value="allow" id="allow">Allow</button>'
            '<button type="submit" name="decision" value="deny" id="deny">Deny</button>'
            "</form>"
        )
        return self._html(200, page)

    def _consent_decision(self) -> None:
        form = self._form()
        query = _flat(parse_qs(form.get("request", "")))
        why = self.google.check_auth_request(query)
        if why:
            return self._html(400, f"<p>{html.escape(why)}</p>")
        if form.get("decision") != "allow":
            return self._redirect(self.google.deny_url("?" + urlencode(query)))
        try:
            target = self.google.approve(query, form.get("email", ""))
        except ValueError as exc:
            return self._html(400, f"<p>{html.escape(str(exc))}</p>")
        return self._redirect(target)

    # Drive and Sheets

    def _api(self) -> None:
        access = self.google.bearer(self.headers.get("Authorization"))
        if access is None or not access.live:
            message = "Request had invalid authentication credentials."
            return self._json(401, {"error": {"code": 401, "message": message}})
        email = access.grant.email
        if self.route.startswith("/v4/"):
            return self._sheets(email)
        rest = self.route.removeprefix("/drive/v3/")
        if rest == "about":
            return self._json(200, {"user": {"emailAddress": email}})
        if rest == "files":
            return self._list(email)
        if rest.startswith("files/") and "/" not in rest.removeprefix("files/"):
            return self._file(rest.removeprefix("files/"), email)
        return self._json(404, drive_error(404, "notFound", "Not Found"))

    def _all_drives(self, *names: str) -> bool:
        return all(self.query.get(name) == "true" for name in names)

    def _file(self, file_id: str, email: str) -> None:
        with self.google.lock:
            item = self.google.items.get(file_id)
            seen = item is not None and self.google.visible(
                item, email, self._all_drives("supportsAllDrives")
            )
        if item is None or not seen:
            return self._json(404, drive_error(404, "notFound", f"File not found: {file_id}."))
        if self.query.get("alt") == "media":
            return self._media(item)
        return self._json(200, _select(item.metadata(), _fields(self.query.get("fields"))))

    def _list(self, email: str) -> None:
        match = LIST_QUERY_RE.fullmatch(self.query.get("q", "").strip())
        if match is None:
            return self._json(400, drive_error(400, "invalid", "Invalid Value"))
        everything = self._all_drives("supportsAllDrives", "includeItemsFromAllDrives")
        items = self.google.children(match.group(1), email, everything)
        size = min(int(self.query.get("pageSize") or 100), self.google.max_page_size)
        start = int(self.query.get("pageToken") or 0)
        names = _fields(self.query.get("fields"))
        body: dict[str, Any] = {
            "files": [_select(i.metadata(), names) for i in items[start : start + size]]
        }
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return self._json(200, body)

    def _media(self, item: Item) -> None:
        if item.mime.startswith("application/vnd.google-apps."):
            message = "Only files with binary content can be downloaded."
            return self._json(403, drive_error(403, "fileNotDownloadable", message))
        data, status, headers = item.data, 200, {}
        asked = RANGE_RE.fullmatch(self.headers.get("Range", ""))
        if asked:
            first = int(asked.group(1))
            last = int(asked.group(2)) if asked.group(2) else len(data) - 1
            if first >= len(data):
                extra = {"Content-Range": f"bytes */{len(data)}"}
                return self._json(416, drive_error(416, "rangeNotSatisfiable", "Bad range"), extra)
            status, data = 206, data[first : last + 1]
            headers["Content-Range"] = f"bytes {first}-{first + len(data) - 1}/{len(item.data)}"
        self._send_head(status, "application/octet-stream", len(data), headers)
        self._write_body(data)

    def _write_body(self, data: bytes) -> None:
        """The body in chunks; cut (socket closed) where a fault says so."""
        cut, expire = self.google.take_cut()
        limit = len(data) if cut is None else min(cut, len(data))
        for start in range(0, limit, BODY_CHUNK):
            self.wfile.write(data[start : min(start + BODY_CHUNK, limit)])
        self.wfile.flush()
        if expire:
            access = self.google.bearer(self.headers.get("Authorization"))
            if access is not None:
                access.expires_at = 0.0
        if limit < len(data):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def _sheets(self, email: str) -> None:
        if self.google.sheets is None:
            return self._json(404, {"error": {"code": 404, "message": "Sheets not faked"}})
        body = json.loads(self.body) if self.body else None
        status, answer = self.google.sheets.handle(
            self.command, self.route, self.query, body, email
        )
        return self._json(status, answer)

    # replies

    def _fault(self, fault: Fault) -> None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        body = fault.body or drive_error(fault.status, "backendError", "scripted failure")
        return self._json(fault.status, body, headers)

    def _form(self) -> dict[str, str]:
        return _flat(parse_qs(self.body.decode("utf-8", "replace")))

    def _record(self, status: int) -> None:
        access = self.google.bearer(self.headers.get("Authorization"))
        self.google.record(
            Request(
                method=self.command,
                path=self.route,
                query=dict(self.query),
                email=access.grant.email if access else None,
                range=self.headers.get("Range"),
                body_size=len(self.body),
                status=status,
            )
        )

    def _send_head(
        self, status: int, content_type: str, length: int, headers: dict[str, str]
    ) -> None:
        self._record(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self._send_head(status, "application/json", len(data), headers or {})
        self.wfile.write(data)

    def _html(self, status: int, page: str) -> None:
        data = f"<!doctype html><html><body>{page}</body></html>".encode()
        self._send_head(status, "text/html; charset=utf-8", len(data), {})
        self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self._send_head(302, "text/plain", 0, {"Location": location})

    def log_message(self, *_: Any) -> None:
        return
