"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that checks every delivery's
signature with the receivers' own function (:func:`kickflow.integrations.webhooks.verify`)
and answers with the statuses it is told to (then 200)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kickflow.errors import WebhookSignatureInvalid
from kickflow.integrations.webhooks.verify import verify


@dataclass(frozen=True)
class Received:
    """One request as it arrived, and whether its signature held."""

    at: float  # time.monotonic()
    event: str
    delivery: str
    body: bytes
    data: dict[str, Any] | None  # None: the signature did not verify
    answered: int


class Receiver:
    """``with Receiver() as r:`` — ``r.url``, ``r.secret`` (set it after creating the
    endpoint), ``r.answers`` (statuses to give first), ``r.received``."""

    def __init__(self) -> None:
        self.secret = ""
        self.answers: list[int] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def record(self, headers: Any, body: bytes) -> int:
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
            try:
                data = verify(self.secret, headers.get("KickFlow-Signature", ""), body)
            except WebhookSignatureInvalid:
                data = None
            self.received.append(
                Received(
                    time.monotonic(),
                    headers.get("KickFlow-Event", ""),
                    headers.get("KickFlow-Delivery", ""),
                    body,
                    data,
                    status,
                )
            )
            return status

    def of_event(self, event: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.event == event]


def _handler(owner: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            status = owner.record(self.headers, self.rfile.read(size))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"
