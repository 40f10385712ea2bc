"""The guards against slow and greedy clients, without a socket: the connection protocol's
timer decisions with a fake transport and a clock the test fires, the client count, and the
request-body pace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from kickflow.api.connections import LINGER_SECONDS, ClientCount, guarded_protocol, raw_error
from kickflow.api.limits import BodyPace
from kickflow.config import Settings

TIMEOUT = 7.0  # the header deadline of these tests; uvicorn's keep-alive timer is 5 s
REQUEST = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"


@dataclass
class Timer:
    delay: float
    callback: Callable[..., Any]
    args: tuple[Any, ...]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class Clock:
    """The protocol's loop: tasks run on a real loop, timers fire only when the test says."""

    loop: asyncio.AbstractEventLoop
    timers: list[Timer] = field(default_factory=list)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(delay, callback, args)
        self.timers.append(timer)
        return timer

    def create_task(self, coro: Any, **kw: Any) -> asyncio.Task[Any]:
        return self.loop.create_task(coro, **kw)

    def armed(self, delay: float) -> list[Timer]:
        return [t for t in self.timers if not t.cancelled and t.delay == delay]

    def fire(self, delay: float) -> None:
        (timer,) = self.armed(delay)
        timer.cancelled = True
        timer.callback(*timer.args)


class FakeTransport(asyncio.Transport):
    def __init__(self, peer: tuple[str, int]) -> None:
        super().__init__()
        self.peer = peer
        self.written = bytearray()
        self.eof = False
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: Any) -> None:
        assert not self.eof, "written after the end of the stream"
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@dataclass
class Rig:
    clock: Clock
    state: ServerState
    protocol: type[Any]
    config: uvicorn.Config

    def connect(self, host: str = "10.0.0.1") -> tuple[Any, FakeTransport]:
        proto = self.protocol(
            config=self.config, server_state=self.state, app_state={}, _loop=self.clock
        )
        transport = FakeTransport((host, 40000 + len(self.state.connections)))
        proto.connection_made(transport)
        return proto, transport

    def finish_requests(self) -> None:
        self.clock.loop.run_until_complete(asyncio.gather(*self.state.tasks))


@pytest.fixture
def rig() -> Iterator[Rig]:
    loop = asyncio.new_event_loop()
    settings = Settings(http_header_timeout_seconds=TIMEOUT, http_max_connections_per_client=2)
    config = uvicorn.Config(app=hello, log_config=None, lifespan="off", proxy_headers=False)
    yield Rig(Clock(loop), ServerState(), guarded_protocol(settings), config)
    loop.close()


def test_headers_not_complete_in_time_get_408_and_the_connection_ends(rig: Rig) -> None:
    proto, transport = rig.connect()
    proto.data_received(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
    rig.clock.fire(TIMEOUT)
    assert transport.written.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    body = json.loads(bytes(transport.written).partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "request_timeout"
    assert transport.eof and not transport.closed  # half-closed: the client reads the answer
    proto.data_received(b"aaaa\r\n\r\n")  # what it still sends is dropped
    assert not rig.state.tasks
    rig.clock.fire(LINGER_SECONDS)
    assert transport.closed


def test_a_connection_that_never_sends_is_closed_without_an_answer(rig: Rig) -> None:
    _, transport = rig.connect()
    rig.clock.fire(TIMEOUT)
    assert transport.closed and transport.written == b""


def test_complete_headers_stop_the_deadline_and_the_next_request_gets_a_new_one(
    rig: Rig,
) -> None:
    proto, transport = rig.connect()
    proto.data_received(REQUEST)
    assert rig.clock.armed(TIMEOUT) == []  # a slow app is not a slow client
    rig.finish_requests()
    assert transport.written.startswith(b"HTTP/1.1 200 OK") and transport.written.endswith(b"ok")
    assert len(rig.clock.armed(TIMEOUT)) == 1  # armed again at the end of the response
    proto.data_received(b"GET / HTTP/1.1\r\n")  # cancels uvicorn's keep-alive timer, not ours
    assert not rig.clock.armed(5.0)
    rig.clock.fire(TIMEOUT)
    assert transport.written.count(b"HTTP/1.1 408") == 1 and transport.eof


def test_connections_over_the_cap_get_429_and_closing_one_makes_room(rig: Rig) -> None:
    first, _ = rig.connect()
    rig.connect()
    refused, transport = rig.connect()
    assert transport.written.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert b'"code": "too_many_connections"' in transport.written and transport.eof
    refused.data_received(REQUEST)
    assert not rig.state.tasks  # a refused connection's requests are not served
    _, other_host = rig.connect("10.0.0.2")
    assert other_host.written == b""
    refused.connection_lost(None)
    first.connection_lost(None)
    _, again = rig.connect()
    assert again.written == b""


def test_client_count() -> None:
    count = ClientCount(2)
    assert count.admit("a") and count.admit("a") and not count.admit("a")
    assert count.admit("b") and count.open("a") == 2
    count.release("a")
    assert count.open("a") == 1 and count.admit("a")
    count.release("a")
    count.release("a")
    assert count.open("a") == 0


def test_raw_error_is_a_complete_response() -> None:
    raw = raw_error(429, "too_many_connections", "slow down")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 429 Too Many Requests"
    assert b"connection: close" in head and f"content-length: {len(body)}".encode() in head
    assert json.loads(body) == {"error": {"code": "too_many_connections", "message": "slow down"}}


# --- request-body pace --------------------------------------------------------------------


def test_a_pause_is_never_allowed_longer_than_the_idle_window() -> None:
    pace = BodyPace(idle_seconds=30, min_bytes_per_second=1024)
    assert pace.allowed_wait() == 30
    pace.note(10 * 1024 * 1024, waited=1.0)  # well ahead of the minimum rate
    assert pace.allowed_wait() == 30
    assert pace.verdict(30) == "request body stalled: no data for 30 s"


def test_after_the_idle_window_the_average_must_stay_above_the_minimum() -> None:
    pace = BodyPace(idle_seconds=30, min_bytes_per_second=1000)
    pace.note(20_000, waited=25.0)  # 800 bytes/s so far, but still inside the idle window
    assert pace.allowed_wait() == pytest.approx(5.0)  # until 30 s of waiting in all
    pace.note(20_000, waited=5.0)  # 40 000 bytes in 30 s: 1333 bytes/s
    assert pace.allowed_wait() == pytest.approx(10.0)  # 40 000 bytes cover 40 s at 1000/s
    assert "40000 bytes in 40 s, under the minimum of 1000 bytes/s" in pace.verdict(10.0)


def test_a_body_behind_the_minimum_rate_may_not_wait_at_all() -> None:
    pace = BodyPace(idle_seconds=2, min_bytes_per_second=1000)
    pace.note(100, waited=3.0)
    assert pace.allowed_wait() == 0.0


def test_no_minimum_rate_leaves_only_the_idle_window() -> None:
    pace = BodyPace(idle_seconds=5, min_bytes_per_second=0)
    pace.note(1, waited=1000.0)
    assert pace.allowed_wait() == 5
