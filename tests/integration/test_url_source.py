"""The ``url`` source and the outbound client against real HTTP(S) servers on loopback.

Every server here listens on 127.0.0.0/8 and every request goes there. Loopback is refused by
default, so most tests allow it (``KICKFLOW_URL_ALLOW_NETWORKS`` / ``_HOSTS``) the way an
operator allows an internal source, and then show that each trick to reach a refused address
is caught. Names are answered by an injected resolver (nothing reaches a real DNS server).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.errors import FileTooLarge, UrlFailed, UrlNotMedia, UrlRefused, UrlUnreachable
from kickflow.jobs import Job, JobState, sources
from kickflow.jobs.url_source import UrlSource
from kickflow.net import OutboundClient, OutboundPolicy
from kickflow.worker.pipeline import AttemptContext, run_attempt
from tests.fakes import FakeClock, FakeJobStore
from tests.fakes.engine import FakeEngine

MEDIA = bytes(range(256)) * 10_000  # 2.56 MB: three 1 MiB chunks of progress
SMALL = b"RIFF....WAVEfmt "


@dataclass
class Route:
    """What the server answers on one path."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    length: bool = True  # send Content-Length (else the body ends when the connection does)
    head_status: int | None = None  # answer HEAD differently (405: HEAD not supported)
    stall: bool = False  # send half of the body, then nothing until the server stops


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class Loopback:
    """A real HTTP(S) server on a loopback address that records every request."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer((host, 0), _handler(self))
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.host, self.port = host, self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str, host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _handler(owner: Loopback) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(head=False)

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def _answer(self, *, head: bool) -> None:
            owner.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
            route = owner.routes.get(self.path.split("?")[0], Route(404, body=b"no"))
            body, status = route.body, route.status
            if head and route.head_status is not None:
                status, body = route.head_status, b""
            ranged = not head and status == 200 and self.headers.get("Range") == "bytes=0-0"
            if ranged:
                status, total, body = 206, len(body), body[:1]
            self.send_response(status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if ranged:
                self.send_header("Content-Range", f"bytes 0-0/{total}")
            if route.length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if route.stall:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                owner.stopping.wait(60)
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[Loopback]:
    srv = Loopback()
    yield srv
    srv.stop()


def second_loopback() -> Loopback:
    """A server on 127.0.0.2 (loopback too): the "outside" host of a rebinding test."""
    try:
        return Loopback("127.0.0.2")
    except OSError:
        if os.environ.get("CI") == "true":
            raise  # no skips in CI: Linux binds all of 127.0.0.0/8
        pytest.skip("this system cannot bind 127.0.0.2")


class Dns:
    """An injected resolver: ``answers[name]`` is a list of answers, one per lookup (the last
    one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        answers = self.answers.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return answers[min(self.lookups.count(host), len(answers)) - 1]


def loopback_allowed(**more: object) -> Settings:
    return Settings(url_allow_networks="127.0.0.0/8", **more)  # type: ignore[arg-type]


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.calls.append((done, total))


# --- downloads that work ---------------------------------------------------------------------


def test_an_allowed_loopback_download_arrives_whole_with_progress(
    server: Loopback, tmp_path: Path
) -> None:
    server.routes["/deliveries/EP%2001.mov"] = Route(
        headers={"Content-Type": "video/quicktime"}, body=MEDIA
    )
    url = server.url("/deliveries/EP%2001.mov?token=abc")
    source = sources.get_source("url")
    info = source.inspect(url, loopback_allowed())
    progress = Progress()
    path = source.fetch(url, tmp_path, loopback_allowed(), progress)
    assert (info.file_name, info.size) == ("EP 01.mov", len(MEDIA))
    assert path == tmp_path / "EP 01.mov"
    assert path.read_bytes() == MEDIA
    assert progress.calls[-1] == (len(MEDIA), len(MEDIA))
    assert len(progress.calls) >= 3
    assert [done for done, _ in progress.calls] == sorted({done for done, _ in progress.calls})
    assert [s.method for s in server.seen] == ["HEAD", "GET"]
    assert server.seen[1].headers["Accept-Encoding"] == "identity"


def test_a_name_allowed_by_the_operator_is_reached_at_its_checked_address(
    server: Loopback, tmp_path: Path
) -> None:
    server.routes["/a.wav"] = Route(
        headers={"Content-Disposition": "attachment; filename*=UTF-8''%C3%A9pisode.wav"},
        body=SMALL,
    )
    dns = Dns({"media.test": [["127.0.0.1"]]})
    settings = Settings(url_allow_hosts="media.test")
    path = UrlSource(dns).fetch(server.url("/a.wav", "media.test"), tmp_path, settings, Progress())
    assert path.name == "\u00e9pisode.wav"
    assert path.read_bytes() == SMALL
    assert server.seen[0].headers["Host"] == f"media.test:{server.port}"
    assert dns.lookups == ["media.test"]


def test_a_server_without_head_is_asked_for_its_first_byte(server: Loopback) -> None:
    server.routes["/signed.mxf"] = Route(head_status=403, body=MEDIA)
    info = UrlSource().inspect(server.url("/signed.mxf"), loopback_allowed())
    assert info.size == len(MEDIA)
    assert [(s.method, s.headers.get("Range")) for s in server.seen] == [
        ("HEAD", None),
        ("GET", "bytes=0-0"),
    ]


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "017700000001", "127.1"])
def test_numeric_spellings_reach_the_address_they_mean(server: Loopback, host: str) -> None:
    server.routes["/a.wav"] = Route(body=SMALL)
    info = UrlSource().inspect(server.url("/a.wav", host), loopback_allowed())
    assert info.size == len(SMALL)
    assert server.seen[0].headers["Host"] == f"127.0.0.1:{server.port}"


# --- refused: loopback by default, whichever way it is spelled or reached ----------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "0x7f.1", "017700000001", "127.1", "[::ffff:127.0.0.1]"]
)
def test_loopback_is_refused_by_default_however_it_is_spelled(server: Loopback, host: str) -> None:
    url = server.url("/a.wav", host)
    with pytest.raises(UrlRefused) as caught:
        UrlSource().inspect(url, Settings())
    assert str(caught.value) == f"{url}: refused, its host is a loopback address"
    assert server.seen == []


@pytest.mark.parametrize("answer", ["127.0.0.1", "::ffff:127.0.0.1", "::1"])
def test_a_name_resolving_to_loopback_is_refused(server: Loopback, answer: str) -> None:
    dns = Dns({"media.test": [[answer]]})
    with pytest.raises(UrlRefused, match=r"media\.test resolves to a loopback address"):
        UrlSource(dns).inspect(server.url("/a.wav", "media.test"), Settings())
    assert server.seen == []


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/a.wav",
        "http://2130706433:{port}/a.wav",
        "http://0x7f.1:{port}/a.wav",
        "http://[::ffff:127.0.0.1]:{port}/a.wav",
        "http://localhost:{port}/a.wav",
    ],
)
def test_a_redirect_to_loopback_is_refused(server: Loopback, location: str) -> None:
    server.routes["/go"] = Route(302, {"Location": location.format(port=server.port)})
    server.routes["/a.wav"] = Route(body=SMALL)
    dns = Dns({"media.test": [["127.0.0.1"]], "localhost": [["127.0.0.1"]]})
    settings = Settings(url_allow_hosts="media.test")  # the first hop only
    url = server.url("/go", "media.test")
    with pytest.raises(UrlRefused) as caught:
        UrlSource(dns).inspect(url, settings)
    assert str(caught.value) == f"{url}: refused, redirect 1 leads to a loopback address"
    assert [s.path for s in server.seen] == ["/go"]


def test_the_redirect_cap_stops_a_chain(server: Loopback) -> None:
    for n in range(4):
        server.routes[f"/r{n}"] = Route(301, {"Location": f"/r{n + 1}"})
    server.routes["/r4"] = Route(body=SMALL)
    settings = loopback_allowed(url_max_redirects=3)
    with pytest.raises(UrlFailed, match="stopped after 3 redirects"):
        UrlSource().inspect(server.url("/r0"), settings)
    assert [s.path for s in server.seen] == ["/r0", "/r1", "/r2", "/r3"]
    server.seen.clear()
    assert UrlSource().inspect(server.url("/r1"), settings).size == len(SMALL)


# --- DNS rebinding: the answer changes between lookups -----------------------------------------


def test_the_checked_answer_is_the_address_connected_to(server: Loopback, tmp_path: Path) -> None:
    outside = second_loopback()
    try:
        outside.routes["/a.wav"] = Route(body=b"outside")
        server.routes["/a.wav"] = Route(body=b"INSIDE")
        # The first answer passes (127.0.0.2 is allowed); any later one points inside.
        dns = Dns({"media.test": [["127.0.0.2"], ["127.0.0.1"]]})
        settings = Settings(url_allow_networks="127.0.0.2/32")
        url = outside.url("/a.wav", "media.test")
        path = UrlSource(dns).fetch(url, tmp_path, settings, Progress())
        assert path.read_bytes() == b"outside"
        assert dns.lookups == ["media.test"]
        assert server.seen == []
        # The next check looks up again and gets the inside answer: refused before connecting.
        with pytest.raises(UrlRefused, match="resolves to a loopback address"):
            UrlSource(dns).fetch(url, tmp_path, settings, Progress())
        assert server.seen == []
        assert len(outside.seen) == 1
    finally:
        outside.stop()


def test_every_hop_is_looked_up_and_checked_again() -> None:
    outside = second_loopback()
    try:
        outside.routes["/go"] = Route(302, {"Location": "/a.wav"})
        outside.routes["/a.wav"] = Route(body=SMALL)
        dns = Dns({"media.test": [["127.0.0.2"], ["127.0.0.1"]]})
        settings = Settings(url_allow_networks="127.0.0.2/32")
        with pytest.raises(UrlRefused, match="redirect 1 leads to a loopback address"):
            UrlSource(dns).inspect(outside.url("/go", "media.test"), settings)
        assert dns.lookups == ["media.test", "media.test"]
        assert [s.path for s in outside.seen] == ["/go"]
    finally:
        outside.stop()


def test_one_refused_answer_among_several_refuses_the_url() -> None:
    outside = second_loopback()
    try:
        dns = Dns({"media.test": [["127.0.0.2", "127.0.0.1"]]})
        settings = Settings(url_allow_networks="127.0.0.2/32")
        with pytest.raises(UrlRefused, match="resolves to a loopback address"):
            UrlSource(dns).inspect(outside.url("/a.wav", "media.test"), settings)
        assert outside.seen == []
    finally:
        outside.stop()


# --- what the server sends ---------------------------------------------------------------------


def test_an_html_page_is_refused_before_it_is_stored(server: Loopback, tmp_path: Path) -> None:
    server.routes["/share/ep01"] = Route(
        headers={"Content-Type": "text/html; charset=utf-8"}, body=b"<html>sign in</html>"
    )
    url = server.url("/share/ep01")
    with pytest.raises(UrlNotMedia) as caught:
        UrlSource().inspect(url, loopback_allowed())
    assert str(caught.value) == f"{url}: the URL gives a web page, not a media file"
    with pytest.raises(UrlNotMedia):
        UrlSource().fetch(url, tmp_path, loopback_allowed(), Progress())
    assert list(tmp_path.iterdir()) == []


def test_a_declared_size_over_the_cap_is_refused_before_downloading(
    server: Loopback, tmp_path: Path
) -> None:
    server.routes["/big.mov"] = Route(body=MEDIA)
    settings = loopback_allowed(url_max_mb=2)
    with pytest.raises(FileTooLarge, match="larger than the 2 MB limit"):
        UrlSource().inspect(server.url("/big.mov"), settings)
    progress = Progress()
    with pytest.raises(FileTooLarge):
        UrlSource().fetch(server.url("/big.mov"), tmp_path, settings, progress)
    assert progress.calls == []
    assert list(tmp_path.iterdir()) == []


def test_an_undeclared_size_is_counted_and_stopped_at_the_cap(
    server: Loopback, tmp_path: Path
) -> None:
    server.routes["/big.mov"] = Route(body=MEDIA, length=False)
    progress = Progress()
    with pytest.raises(FileTooLarge, match="larger than the 2 MB limit"):
        UrlSource().fetch(
            server.url("/big.mov"), tmp_path, loopback_allowed(url_max_mb=2), progress
        )
    assert progress.calls[-1][0] <= 2_000_000
    assert progress.calls[-1][1] is None


def test_a_stalled_download_is_stopped_by_the_read_timeout(
    server: Loopback, tmp_path: Path
) -> None:
    server.routes["/slow.mov"] = Route(body=MEDIA, stall=True)
    settings = loopback_allowed(url_read_timeout_seconds=0.5)
    with pytest.raises(UrlUnreachable, match=r"stalled, no data for 0\.5 s") as caught:
        UrlSource().fetch(server.url("/slow.mov"), tmp_path, settings, Progress())
    assert not caught.value.permanent


def test_credentials_stay_behind_when_a_redirect_changes_origin(server: Loopback) -> None:
    other = Loopback()
    try:
        server.routes["/go"] = Route(307, {"Location": other.url("/a.wav")})
        other.routes["/a.wav"] = Route(body=SMALL)
        policy = OutboundPolicy.from_settings(loopback_allowed())
        secret = {"Authorization": "Bearer not-for-them", "Cookie": "s=1", "X-Trace": "t"}
        with (
            OutboundClient(policy) as client,
            client.open("GET", server.url("/go"), headers=secret) as reply,
        ):
            assert b"".join(reply.iter_bytes()) == SMALL
        assert server.seen[0].headers["Authorization"] == "Bearer not-for-them"
        assert "Authorization" not in other.seen[0].headers
        assert "Cookie" not in other.seen[0].headers
        assert other.seen[0].headers["X-Trace"] == "t"
    finally:
        other.stop()


# --- https: pinned address, certificate checked against the host name --------------------------


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext
    names: list[str]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A private CA and a certificate for media.test, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        assert os.environ.get("CI") != "true", "openssl is needed for the HTTPS tests"
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("tls")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=kickflow test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    run("req", *key, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=media.test")
    (d / "leaf.ext").write_text("subjectAltName=DNS:media.test\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")  # fmt: skip
    names: list[str] = []

    def record_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name or "")

    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(d / "leaf.pem", d / "leaf.key")
    server.sni_callback = record_sni
    client = ssl.create_default_context(cafile=str(d / "ca.pem"))
    return Tls(server, client, names)


def test_https_sends_the_host_name_and_verifies_it_while_connecting_to_the_address(
    tls: Tls, tmp_path: Path
) -> None:
    srv = Loopback(tls=tls.server)
    try:
        srv.routes["/a.wav"] = Route(body=SMALL)
        dns = Dns({"media.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
        source = UrlSource(dns, verify=tls.client)
        settings = Settings(url_allow_hosts="media.test,other.test")
        url = srv.url("/a.wav", "media.test", scheme="https")
        assert source.fetch(url, tmp_path, settings, Progress()).read_bytes() == SMALL
        assert tls.names[-1] == "media.test"
        assert srv.seen[0].headers["Host"] == f"media.test:{srv.port}"
        wrong = srv.url("/a.wav", "other.test", scheme="https")
        with pytest.raises(UrlFailed, match="certificate is not valid for its host name"):
            source.inspect(wrong, settings)
        assert tls.names[-1] == "other.test"
        assert len(srv.seen) == 1
    finally:
        srv.stop()


# --- a url job through the worker's attempt pipeline (fake store and engine, real HTTP) --------


def run_url_job(server: Loopback, tmp_path: Path, path: str) -> tuple[str, Job, FakeEngine]:
    settings = loopback_allowed(data_dir=tmp_path / "data", heartbeat_seconds=0.01)
    store = FakeJobStore(settings, clock=FakeClock())
    org = store.ensure_org()
    job = store.enqueue(org, "url", server.url(path), file_name="clip.mov")
    [claimed] = store.claim("w1")
    engine = FakeEngine()
    outcome = run_attempt(AttemptContext(store, settings, engine, threading.Event()), claimed)
    return outcome, store.get(org, job.id), engine


def test_a_url_job_downloads_and_is_analysed(server: Loopback, tmp_path: Path) -> None:
    server.routes["/clip.mov"] = Route(body=MEDIA)
    outcome, job, engine = run_url_job(server, tmp_path, "/clip.mov")
    assert outcome == "completed"
    assert job.state is JobState.COMPLETED
    assert engine.seen[0].content == MEDIA


def test_a_url_job_for_a_web_page_fails_with_the_sentence(server: Loopback, tmp_path: Path) -> None:
    server.routes["/share"] = Route(headers={"Content-Type": "text/html"}, body=b"<html></html>")
    outcome, job, engine = run_url_job(server, tmp_path, "/share")
    assert outcome == "failed"
    assert job.error_code == "url_not_media"
    assert (
        job.error_message == f"{server.url('/share')}: the URL gives a web page, not a media file"
    )
    assert engine.seen == []


def test_a_url_job_whose_server_is_down_is_retried(server: Loopback, tmp_path: Path) -> None:
    server.routes["/clip.mov"] = Route(503)
    outcome, job, _ = run_url_job(server, tmp_path, "/clip.mov")
    assert outcome == "retry_scheduled"
    assert job.state is JobState.QUEUED
    assert job.error_code == "url_unreachable"
