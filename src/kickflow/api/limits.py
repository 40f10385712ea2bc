"""ASGI middleware: content types and body sizes are checked before any route reads a byte.

A request with a body under ``/api/`` must be JSON (or multipart on the upload route). A body
whose declared length is over the limit is refused at once with 413; a chunked one is counted
as it arrives and stopped at the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kickflow.api.errors import error_response
from kickflow.errors import PayloadTooLarge

JSON = "application/json"
MULTIPART = "multipart/form-data"
MULTIPART_SLACK = 1024 * 1024  # part headers and boundaries on top of the file bytes


class RequestLimits:
    """Content-Type and body-size guard for the API."""

    def __init__(
        self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int, upload_path: str
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        media_type = _header(scope, b"content-type").split(";")[0].strip().lower()
        upload = scope["path"] == self.upload_path and media_type == MULTIPART
        problem = self._refusal(scope, media_type, upload)
        if problem is not None:
            await problem(scope, receive, send)
            return
        limit = self.max_upload_bytes + MULTIPART_SLACK if upload else self.max_json_bytes
        await self.app(scope, _counting(receive, limit), send)

    def _refusal(self, scope: Scope, media_type: str, upload: bool) -> ASGIApp | None:
        if scope["path"].startswith("/api/") and not upload and media_type != JSON:
            allowed = f"{JSON} or {MULTIPART}" if scope["path"] == self.upload_path else JSON
            got = media_type or "none"
            return error_response(
                415, "unsupported_media_type", f"Content-Type {got} not accepted: send {allowed}"
            )
        declared = _header(scope, b"content-length")
        limit = self.max_upload_bytes + MULTIPART_SLACK if upload else self.max_json_bytes
        if declared.isdigit() and int(declared) > limit:
            what = "upload" if upload else "request body"
            return error_response(
                413, "payload_too_large", f"{what} of {declared} bytes is over the limit"
            )
        return None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _has_body(scope: Scope) -> bool:
    if scope.get("method") not in {"POST", "PUT", "PATCH", "DELETE"}:
        return False
    length = _header(scope, b"content-length")
    return bool(_header(scope, b"transfer-encoding")) or (length not in {"", "0"})


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"request body over the limit of {limit} bytes")
        return message

    return wrapped
