"""Connection guards of ``kickflow serve``: a deadline for request headers and a per-client cap.

uvicorn's keep-alive timer is cancelled by the first byte a client sends, so a client that
trickles its headers one byte at a time holds a connection for as long as it likes, and nothing
stops one address from opening thousands. The protocol below (uvicorn's httptools protocol plus
two guards) gives each request's headers ``header_timeout_seconds`` — counted from the moment
the connection is made and, on a keep-alive connection, from the end of the previous response —
and refuses connections over ``max_per_client`` per client address with 429.

Behind a reverse proxy every connection comes from the proxy's address: raise the cap there.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kickflow.api.errors import error_body
from kickflow.config import Settings

# A refused connection is half-closed at once; what the client still sends is read and dropped
# for this long, so the client reads the error instead of a connection reset.
LINGER_SECONDS = 2.0


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_seconds: float
    max_per_client: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.http_header_timeout_seconds, settings.http_max_connections_per_client)


class ClientCount:
    """Open connections per client address (the event loop's thread is the only user)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: Counter[str] = Counter()

    def admit(self, client: str) -> bool:
        """Count one more connection from ``client``; False (nothing counted) over the cap."""
        if self._open[client] >= self.cap:
            return False
        self._open[client] += 1
        return True

    def release(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]

    def open(self, client: str) -> int:
        return self._open[client]


def raw_error(status: int, code: str, message: str) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 response with the API's JSON error body."""
    body = json.dumps(error_body(code, message)).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a per-client connection cap.

    Use :func:`guarded_protocol` to get the class with its limits and its own counter.
    """

    limits: ClassVar[ConnectionLimits] = ConnectionLimits(10.0, 32)
    clients: ClassVar[ClientCount] = ClientCount(32)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._counted_as: str | None = None
        self._refused = False
        self._in_headers = False

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if address is not None and not self.clients.admit(address):
            cap = self.limits.max_per_client
            message = f"more than {cap} open connections from your address: reuse or close some"
            self._refuse(429, "too_many_connections", message)
            return
        self._counted_as = address
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted_as is not None:
            self.clients.release(self._counted_as)
            self._counted_as = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_headers = False
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request already has its headers; its own response re-arms the deadline.
        waiting_for_next = not self.pipeline
        super().on_response_complete()
        if waiting_for_next and not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.header_timeout_seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_headers:
            seconds = self.limits.header_timeout_seconds
            message = f"request headers not complete within {seconds:g} s"
            self._refuse(408, "request_timeout", message)
        else:  # an idle connection: nothing was asked, so nothing is answered
            self.transport.close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._refused = True
        self._disarm()
        self.transport.write(raw_error(status, code, message))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def guarded_protocol(settings: Settings) -> type[GuardedHttpProtocol]:
    """The class to pass as uvicorn's ``http=``: the settings' limits, a fresh client count."""
    limits = ConnectionLimits.from_settings(settings)

    class Configured(GuardedHttpProtocol):
        pass

    Configured.limits = limits
    Configured.clients = ClientCount(limits.max_per_client)
    return Configured
