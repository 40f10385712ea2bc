"""ASGI middleware: content types, body sizes and body pace are checked as the body arrives.

A request with a body under ``/api/`` must be JSON (or multipart on the upload route). A body
whose declared length is over the limit is refused at once with 413; a chunked one is counted
as it arrives and stopped at the limit. A page's upload form (``form_upload_paths``: multipart
from a browser without JavaScript) has the upload limit too, counted as it arrives, so that the
route's own refusal, a page with the sentence, is what the browser gets. A body that arrives
too slowly (a pause longer than the idle window, or an average under the minimum rate once that
window has passed) is answered 408 and its connection closed, so a client trickling a body
cannot hold a connection for ever.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kickflow.api.errors import error_response
from kickflow.errors import PayloadTooLarge

JSON = "application/json"
MULTIPART = "multipart/form-data"
MULTIPART_SLACK = 1024 * 1024  # part headers and boundaries on top of the file bytes

log = logging.getLogger("kickflow.api")


@dataclass
class BodyPace:
    """How long the next chunk of a request body may take to arrive.

    Never longer than ``idle_seconds``; and once the body has taken ``idle_seconds``, no longer
    than keeps its average at ``min_bytes_per_second``. Only the time spent waiting for the
    client counts: a slow disk or a busy thread pool on this side is not held against it.
    """

    idle_seconds: float
    min_bytes_per_second: float
    received: int = 0
    waited: float = 0.0

    def allowed_wait(self) -> float:
        """Seconds the next chunk may take before the body is too slow."""
        if self.min_bytes_per_second <= 0:
            return self.idle_seconds
        rate_bound = max(self.idle_seconds, self.received / self.min_bytes_per_second)
        return max(0.0, min(self.idle_seconds, rate_bound - self.waited))

    def note(self, size: int, waited: float) -> None:
        """A chunk of ``size`` bytes arrived after ``waited`` seconds."""
        self.received += size
        self.waited += waited

    def verdict(self, allowed: float) -> str:
        """Why the body was stopped after waiting ``allowed`` seconds in vain."""
        if allowed >= self.idle_seconds:
            return f"request body stalled: no data for {self.idle_seconds:g} s"
        total = self.waited + allowed
        return (
            f"request body too slow: {self.received} bytes in {total:.0f} s, "
            f"under the minimum of {self.min_bytes_per_second:g} bytes/s"
        )


class BodyTooSlow(Exception):
    """Raised out of ``receive`` into the app; the middleware answers 408 instead (a signal
    inside the API, never an error shown as such)."""


class RequestLimits:
    """Content-Type, body-size and body-pace guard for the API."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_bytes: int,
        max_upload_bytes: int,
        upload_path: str,
        body_idle_seconds: float,
        body_min_bytes_per_second: float,
        json_limits_by_prefix: dict[str, int] | None = None,
        form_upload_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.form_upload_paths = form_upload_paths
        self.max_json_bytes = max_json_bytes
        self.json_limits_by_prefix = json_limits_by_prefix or {}
        self.max_upload_bytes = max_upload_bytes
        self.upload_path = upload_path
        self.body_idle_seconds = body_idle_seconds
        self.body_min_bytes_per_second = body_min_bytes_per_second

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        media_type = _header(scope, b"content-type").split(";")[0].strip().lower()
        upload_paths = {self.upload_path, *self.form_upload_paths}
        upload = scope["path"] in upload_paths and media_type == MULTIPART
        problem = self._refusal(scope, media_type, upload)
        if problem is not None:
            await problem(scope, receive, send)
            return
        limit = self.max_upload_bytes + MULTIPART_SLACK if upload else self._json_limit(scope)
        pace = BodyPace(self.body_idle_seconds, self.body_min_bytes_per_second)
        guard = _BodyGuard(receive, send, limit, pace)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if guard.too_slow is None:
                raise  # whatever the app raises after an aborted body is answered with the 408
        if guard.too_slow is not None:
            await guard.answer_timeout(scope)

    def _json_limit(self, scope: Scope) -> int:
        """The JSON body limit of this path (worker reports may be larger than user requests)."""
        path: str = scope["path"]
        for prefix, limit in self.json_limits_by_prefix.items():
            if path.startswith(prefix):
                return limit
        return self.max_json_bytes

    def _refusal(self, scope: Scope, media_type: str, upload: bool) -> ASGIApp | None:
        if scope["path"].startswith("/api/") and not upload and media_type != JSON:
            allowed = f"{JSON} or {MULTIPART}" if scope["path"] == self.upload_path else JSON
            got = media_type or "none"
            return error_response(
                415, "unsupported_media_type", f"Content-Type {got} not accepted: send {allowed}"
            )
        if upload and scope["path"] in self.form_upload_paths:
            return None  # counted as it arrives; the page says what went wrong
        declared = _header(scope, b"content-length")
        limit = self.max_upload_bytes + MULTIPART_SLACK if upload else self._json_limit(scope)
        if declared.isdigit() and int(declared) > limit:
            what = "upload" if upload else "request body"
            return error_response(
                413, "payload_too_large", f"{what} of {declared} bytes is over the limit"
            )
        return None


class _BodyGuard:
    """The receive/send pair of one request with a body: size limit, pace, and the 408."""

    def __init__(self, receive: Receive, send: Send, limit: int, pace: BodyPace) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.pace = pace
        self.body_done = False
        self.response_started = False
        self.too_slow: str | None = None

    async def receive(self) -> Message:
        if self.body_done or self.too_slow is not None:
            return await self._receive()  # waiting for a disconnect is not a body read
        allowed = self.pace.allowed_wait()
        start = time.monotonic()
        with anyio.move_on_after(allowed) as waiting:
            message = await self._receive()
        if waiting.cancelled_caught:
            self.too_slow = self.pace.verdict(allowed)
            raise BodyTooSlow(self.too_slow)
        if message["type"] == "http.request":
            self.pace.note(len(message.get("body", b"")), time.monotonic() - start)
            if self.pace.received > self.limit:
                raise PayloadTooLarge(f"request body over the limit of {self.limit} bytes")
            self.body_done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.too_slow is not None:
            return  # whatever the app makes of the aborted body, the answer is the 408
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)

    async def answer_timeout(self, scope: Scope) -> None:
        """408 and close; when a response was already under way, only close (by leaving it
        unfinished: the server then drops the connection)."""
        assert self.too_slow is not None
        client = scope.get("client") or ("?", 0)
        log.warning("%s %s from %s: %s", scope["method"], scope["path"], client[0], self.too_slow)
        if self.response_started:
            return
        reply = error_response(408, "request_timeout", self.too_slow, connection="close")
        await reply(scope, self._receive, self._send)


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
