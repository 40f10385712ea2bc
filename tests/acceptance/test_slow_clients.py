"""Slow and greedy clients against a real ``kickflow serve``, over raw sockets to 127.0.0.1.

Trickled request headers (on a new and on a keep-alive connection) and trickled or stalled
request bodies are cut off within their bound; one address cannot hold more than the cap of
connections. Each case prints the close time it measured (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.fixtures_server import Server, start_server, wait_for

HEADER_TIMEOUT_S = 2.0
BODY_IDLE_S = 2.0
BODY_MIN_RATE = 200  # bytes/s; the tricklers below send 4 bytes/s
CAP = 4
TRICKLE_EVERY_S = 0.25
MARGIN_S = 5.0  # scheduling slack on a loaded machine, on top of each bound
LIMIT_S = 30.0  # no loop below runs longer than this


@dataclass
class Outcome:
    """What a slow client saw: when the server ended the connection, and what it said."""

    what: str
    closed_after: float | None  # seconds from the start of the slow part; None: still open
    reply: bytes
    answered_at: float = 0.0  # time.monotonic() of the close

    def status(self) -> int | None:
        if not self.reply.startswith(b"HTTP/1.1 "):
            return None
        return int(self.reply.split(b" ", 2)[1])

    def error_code(self) -> str:
        body = self.reply.partition(b"\r\n\r\n")[2]
        return str(json.loads(body)["error"]["code"])

    def report(self, bound: float) -> None:
        print(
            f"\nslow-clients: {self.what}: closed after {self.closed_after:.2f} s "
            f"(bound {bound:g} s + {MARGIN_S:g} s margin), status {self.status()}"
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("slow-clients")
    env = {
        "KICKFLOW_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
        "KICKFLOW_HTTP_BODY_IDLE_SECONDS": str(BODY_IDLE_S),
        "KICKFLOW_HTTP_BODY_MIN_BYTES_PER_SECOND": str(BODY_MIN_RATE),
    }
    started = start_server(base, f"sqlite:///{base / 'kickflow.db'}", env=env)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A cap of 4 and a long header deadline, so idle connections stay open during the test."""
    base = tmp_path_factory.mktemp("capped")
    env = {
        "KICKFLOW_HTTP_MAX_CONNECTIONS_PER_CLIENT": str(CAP),
        "KICKFLOW_HTTP_HEADER_TIMEOUT_SECONDS": "120",
    }
    started = start_server(base, f"sqlite:///{base / 'kickflow.db'}", env=env)
    try:
        yield started
    finally:
        started.stop()


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=LIMIT_S)


def trickle(sock: socket.socket, what: str, data: bytes, start: float) -> Outcome:
    """Send ``data`` one byte per ``TRICKLE_EVERY_S`` until the server ends the connection.

    Stops sending as soon as the server answers, then waits for its end of the connection.
    """
    reply = bytearray()
    sent = 0
    try:
        while time.monotonic() - start < LIMIT_S:
            if not reply and sent < len(data):
                sock.send(data[sent : sent + 1])
                sent += 1
            readable, _, _ = select.select([sock], [], [], TRICKLE_EVERY_S)
            if readable:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        else:
            return Outcome(what, None, bytes(reply))
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    now = time.monotonic()
    return Outcome(what, now - start, bytes(reply), now)


def read_response(sock: socket.socket) -> bytes:
    """One complete response with a Content-Length body (the connection stays open)."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {bytes(data)!r}"
        data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


def get(port: int, path: str) -> tuple[int, float]:
    """A plain ``Connection: close`` request: (status, seconds it took)."""
    start = time.monotonic()
    with connect(port) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = bytearray()
        while chunk := sock.recv(65536):
            data += chunk
    status = int(bytes(data).split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, time.monotonic() - start


def start_all(jobs: dict[str, tuple[socket.socket, bytes, float]]) -> Callable[[], list[Outcome]]:
    """Start one trickler thread per job; returns the function that waits for their outcomes."""
    out: list[Outcome] = []

    def run(name: str, sock: socket.socket, data: bytes, start: float) -> None:
        out.append(trickle(sock, name, data, start))

    threads = [threading.Thread(target=run, args=(n, *job), daemon=True) for n, job in jobs.items()]
    for t in threads:
        t.start()

    def join() -> list[Outcome]:
        for t in threads:
            t.join(timeout=LIMIT_S + 10)
            assert not t.is_alive()
        assert len(out) == len(jobs)
        return out

    return join


def assert_closed_within(outcome: Outcome, bound: float, status: int | None) -> None:
    assert outcome.closed_after is not None, f"{outcome.what}: still open after {LIMIT_S} s"
    outcome.report(bound)
    assert bound * 0.9 <= outcome.closed_after <= bound + MARGIN_S, outcome
    if status is not None:
        assert outcome.status() == status, outcome.reply
        assert outcome.error_code() == "request_timeout"


HEADER_BYTES = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 400


def test_trickled_headers_are_cut_off_while_others_are_served(server: Server) -> None:
    port = port_of(server)
    start = time.monotonic()
    join = start_all({f"header trickle #{i}": (connect(port), HEADER_BYTES, start) for i in (1, 2)})
    status, took = get(port, "/api/health")
    answered_at = time.monotonic()
    outcomes = join()
    print(f"\nslow-clients: a normal request during the trickle took {took:.3f} s")
    assert status == 200
    for outcome in outcomes:
        assert_closed_within(outcome, HEADER_TIMEOUT_S, 408)
        assert answered_at < outcome.answered_at  # served while the tricklers were still open


def test_trickled_headers_of_a_second_request_on_a_keep_alive_connection(server: Server) -> None:
    sock = connect(port_of(server))
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = read_response(sock)
    assert first.startswith(b"HTTP/1.1 200"), first
    outcome = trickle(sock, "keep-alive header trickle", HEADER_BYTES, time.monotonic())
    assert_closed_within(outcome, HEADER_TIMEOUT_S, 408)


def _json_head(server: Server, length: int) -> bytes:
    return (
        "POST /api/qc/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _multipart_head(server: Server, length: int) -> bytes:
    return (
        "POST /api/qc/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {server.token}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


PART_HEAD = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="slow.mov"\r\n\r\n'


def test_trickled_and_stalled_bodies_are_cut_off(server: Server) -> None:
    port = port_of(server)
    json_sock, upload_sock, stalled_sock = (connect(port) for _ in range(3))
    json_sock.sendall(_json_head(server, 500))
    upload_sock.sendall(_multipart_head(server, 5000) + PART_HEAD)
    stalled_sock.sendall(_json_head(server, 500) + b'{"source": {"type": "path", ')
    start = time.monotonic()
    join = start_all(
        {
            "JSON body trickle": (json_sock, b'{"source": {"path": "' + b"a" * 400, start),
            "upload body trickle": (upload_sock, b"\0" * 4000, start),
            "stalled JSON body": (stalled_sock, b"", start),
        }
    )
    # 4 bytes/s is under the minimum rate: the tricklers are cut once the idle window has
    # passed (the rate bound, max(idle, received / rate), is the idle window here); the
    # stalled body by the idle window itself.
    for outcome in join():
        if outcome.what == "stalled JSON body":
            assert_closed_within(outcome, BODY_IDLE_S, 408)
        else:  # no status: the server's close overtook its reply (a reset), still closed
            assert_closed_within(outcome, BODY_IDLE_S, None)
            assert outcome.status() in {408, None}, outcome.reply
    assert server.uploads() == []
    log = server.data_dir / "log" / "kickflow.log"
    line = "POST /api/qc/jobs from 127.0.0.1: request body"
    wait_for(lambda: log.read_text().count(line) >= 3, 10, "the three slow bodies logged")


def cap_round(port: int, held: list[socket.socket]) -> tuple[list[socket.socket], Outcome] | None:
    """Fill the cap with idle connections, then open one more: it alone must be refused.

    None when another one was refused instead (a connection closed just before was still
    being counted): those opened here are closed again.
    """
    fresh = [connect(port) for _ in range(CAP - len(held))]
    extra = connect(port)
    start = time.monotonic()
    readable = select.select([extra, *held, *fresh], [], [], LIMIT_S)[0]
    if readable != [extra]:
        for sock in [extra, *fresh]:
            sock.close()
        return None
    return [*held, *fresh], trickle(extra, "connection over the cap", b"", start)


def test_connections_over_the_per_client_cap_are_refused(capped_server: Server) -> None:
    port = port_of(capped_server)
    held, outcome = wait_for(lambda: cap_round(port, []), 30, "only the extra one refused")
    try:
        assert_closed_within(outcome, 0, None)
        assert outcome.status() == 429 and outcome.error_code() == "too_many_connections"
        for sock in held[:2]:
            sock.close()
        held = held[2:]
        released = time.monotonic()
        wait_for(lambda: get(port, "/api/health")[0] == 200, 30, "a connection to be accepted")
        print(f"\nslow-clients: accepted again {time.monotonic() - released:.3f} s after closing 2")
        held, again = wait_for(lambda: cap_round(port, held), 30, "the cap to hold again")
        assert again.status() == 429
    finally:
        for sock in held:
            sock.close()
