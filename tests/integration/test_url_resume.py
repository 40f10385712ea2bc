"""The ``url`` source resumes a download whose connection drops mid-body.

A real HTTP server on 127.0.0.1 serves one file with ``Range`` support and drops the
connection after a set number of body bytes, as a flaky CDN or a proxy restart does. Loopback
is allowed the way an operator allows an internal source (``KICKFLOW_URL_ALLOW_NETWORKS``),
as in ``test_url_source.py``. The client reads the body in 1 MiB chunks and a chunk cut short
by the drop is asked for again, so the drops here come after the first chunk.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.errors import UrlUnreachable
from kickflow.jobs.url_source import MAX_RESUMES, UrlSource

MEDIA = bytes(range(256)) * 24_000  # about 6 MB: several 1 MiB chunks around each drop
CHANGED = bytes(reversed(range(256))) * 24_000
RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclass
class Asked:
    range: str | None
    if_range: str | None


@dataclass
class FlakyFile:
    """What the server serves and how it misbehaves."""

    body: bytes = MEDIA
    etag: str | None = '"v1"'
    last_modified: str | None = None
    ranges: bool = True  # advertise Accept-Ranges: bytes
    honour_ranges: bool = True  # False: answer a Range with the whole file, as some caches do
    drops: list[int] = field(default_factory=list)  # body bytes sent before each drop, in turn
    change_after_drop: bytes | None = None  # the file is replaced once the first drop happened
    asked: list[Asked] = field(default_factory=list)
    sent_before_drop: list[int] = field(default_factory=list)
    url: str = ""


class FlakyServer:
    def __init__(self, file: FlakyFile) -> None:
        self.file = file
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(file))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/deliveries/EP01.mov"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _handler(file: FlakyFile) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked = Asked(self.headers.get("Range"), self.headers.get("If-Range"))
            file.asked.append(asked)
            start = self._start(asked)
            body = file.body[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "video/quicktime")
            self.send_header("Content-Length", str(len(body)))
            if start:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(file.body) - 1}/{len(file.body)}"
                )
            if file.ranges:
                self.send_header("Accept-Ranges", "bytes")
            if file.etag:
                self.send_header("ETag", file.etag)
            if file.last_modified:
                self.send_header("Last-Modified", file.last_modified)
            self.end_headers()
            self._send(body)

        def _start(self, asked: Asked) -> int:
            """Where the answer starts: 0 (the whole file) unless a range of the current
            version can be served."""
            match = RANGE.match(asked.range or "")
            if not (file.ranges and file.honour_ranges) or match is None:
                return 0
            current = file.etag or file.last_modified
            if asked.if_range is not None and asked.if_range != current:
                return 0
            return int(match.group(1))

        def _send(self, body: bytes) -> None:
            if not file.drops:
                self.wfile.write(body)
                return
            cut = file.drops.pop(0)
            self.wfile.write(body[:cut])
            self.wfile.flush()
            file.sent_before_drop.append(min(cut, len(body)))
            if file.change_after_drop is not None:
                file.body, file.etag = file.change_after_drop, '"v2"'
                file.change_after_drop = None
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def flaky() -> Iterator[FlakyFile]:
    file = FlakyFile()
    server = FlakyServer(file)
    file.url = server.url
    yield file
    server.stop()


def allowed(**more: object) -> Settings:
    return Settings(url_allow_networks="127.0.0.0/8", **more)  # type: ignore[arg-type]


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.calls.append((done, total))


def fetch(file: FlakyFile, dest: Path, settings: Settings | None = None) -> tuple[Path, Progress]:
    progress = Progress()
    return UrlSource().fetch(file.url, dest, settings or allowed(), progress), progress


def test_a_dropped_connection_is_resumed_from_the_bytes_written(
    flaky: FlakyFile, tmp_path: Path
) -> None:
    flaky.drops = [1_300_000]
    path, progress = fetch(flaky, tmp_path)
    assert path.read_bytes() == MEDIA
    sent = flaky.sent_before_drop[0]
    assert [a.if_range for a in flaky.asked] == [None, '"v1"']
    assert flaky.asked[0].range is None
    match = re.match(r"^bytes=(\d+)-$", flaky.asked[1].range or "")
    assert match is not None
    start = int(match.group(1))
    done = [d for d, _ in progress.calls]
    # It asks for the rest from what it had written (a partial chunk in flight is asked again).
    assert 0 < start <= sent and start in done
    assert done == sorted(done), "progress keeps counting up across the resume"
    assert progress.calls[-1] == (len(MEDIA), len(MEDIA))


def test_last_modified_is_the_validator_without_a_strong_etag(
    flaky: FlakyFile, tmp_path: Path
) -> None:
    flaky.etag = None
    flaky.last_modified = "Tue, 01 Dec 2026 10:00:00 GMT"
    flaky.drops = [1_500_000]
    path, _ = fetch(flaky, tmp_path)
    assert path.read_bytes() == MEDIA
    assert flaky.asked[1].if_range == "Tue, 01 Dec 2026 10:00:00 GMT"


def test_a_file_changed_meanwhile_starts_over_instead_of_splicing(
    flaky: FlakyFile, tmp_path: Path
) -> None:
    flaky.drops = [1_200_000]
    flaky.change_after_drop = CHANGED
    path, progress = fetch(flaky, tmp_path)
    assert path.read_bytes() == CHANGED
    assert flaky.asked[1].if_range == '"v1"'
    assert progress.calls[-1] == (len(CHANGED), len(CHANGED))


def test_a_server_answering_200_to_the_range_starts_over(flaky: FlakyFile, tmp_path: Path) -> None:
    flaky.drops = [1_100_000]
    flaky.honour_ranges = False
    path, progress = fetch(flaky, tmp_path)
    assert path.read_bytes() == MEDIA
    assert flaky.asked[1].range is not None
    assert len(flaky.asked) == 2
    assert progress.calls[-1] == (len(MEDIA), len(MEDIA))


def test_at_most_three_resumes_then_the_job_retries(flaky: FlakyFile, tmp_path: Path) -> None:
    flaky.drops = [1_100_000] * (MAX_RESUMES + 1)
    with pytest.raises(UrlUnreachable):
        fetch(flaky, tmp_path)
    assert len(flaky.asked) == MAX_RESUMES + 1
    assert [a.range is not None for a in flaky.asked] == [False] + [True] * MAX_RESUMES


def test_three_drops_still_arrive_whole(flaky: FlakyFile, tmp_path: Path) -> None:
    flaky.drops = [1_100_000] * MAX_RESUMES
    path, _ = fetch(flaky, tmp_path)
    assert path.read_bytes() == MEDIA
    assert len(flaky.asked) == MAX_RESUMES + 1


def test_without_accept_ranges_there_is_no_resume(flaky: FlakyFile, tmp_path: Path) -> None:
    flaky.ranges = False
    flaky.drops = [1_100_000]
    with pytest.raises(UrlUnreachable):
        fetch(flaky, tmp_path)
    assert flaky.asked == [Asked(None, None)]


def test_without_a_validator_there_is_no_resume(flaky: FlakyFile, tmp_path: Path) -> None:
    flaky.etag = 'W/"weak"'
    flaky.drops = [1_100_000]
    with pytest.raises(UrlUnreachable):
        fetch(flaky, tmp_path)
    assert len(flaky.asked) == 1
