"""The worker protocol against a real ``kickflow serve`` (SQLite and PostgreSQL): HTTP workers
with their own empty data directory and no database URL run upload and path jobs; tokens,
versions and leases are checked; downloads resume with ``Range`` and are checksummed; a call
repeated after a lost reply is not a second write."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.config import Settings
from kickflow.errors import ChecksumMismatch, LeaseLost
from kickflow.jobs import Claimed
from kickflow.worker import protocol as wire
from kickflow.worker.remote import HttpWorkerStore
from tests.fixtures_server import BACKENDS, Server, start_server, wait_for

JOBS = "/api/qc/jobs"
V = {wire.VERSION_HEADER: str(wire.VERSION)}
TIMINGS = {"KICKFLOW_LEASE_SECONDS": "15", "KICKFLOW_HEARTBEAT_SECONDS": "1"}


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    empty_database_url: Callable[[str], str],
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp(f"proto-{request.param}")
    # Leases long enough for a loaded machine: nothing here waits for one to expire.
    srv = start_server(base, empty_database_url(request.param), env=TIMINGS)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def worker_token(server: Server) -> str:
    return server.token_for("local", "worker")


def worker_settings(server: Server, data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        allowed_roots=str(server.media_root),
        lease_seconds=15,
        heartbeat_seconds=1,
        server_url=server.url,
    )  # type: ignore[call-arg]


@pytest.fixture
def remote(server: Server, worker_token: str, tmp_path: Path) -> Iterator[HttpWorkerStore]:
    store = HttpWorkerStore(server.url, worker_token, worker_settings(server, tmp_path / "w"))
    yield store
    store.close()


def upload(server: Server, content: bytes, name: str = "clip.mp4", **fields: str) -> str:
    with server.client() as c:
        reply = c.post(JOBS, files={"file": (name, content)}, data={"priority": "100", **fields})
    assert reply.status_code == 201, reply.text
    body = reply.json()
    return str(body["jobs"][0]["id"] if "jobs" in body else body["id"])


def claim_job(store: HttpWorkerStore, job_id: str) -> Claimed:
    """Claim ``job_id`` (others claimed on the way are handed back)."""
    for _ in range(20):
        got = store.claim("proto-test")
        assert got, "nothing to claim"
        if got[0].job.id == job_id:
            return got[0]
        store.release(got[0].lease, "not the job under test")
    raise AssertionError(f"could not claim {job_id}")


# --- real workers ------------------------------------------------------------------------


def test_http_workers_run_uploads_and_paths_without_database_access(
    server: Server, worker_token: str, short_clip: Path, tmp_path: Path
) -> None:
    (server.media_root / "on-the-nas.mp4").write_bytes(short_clip.read_bytes())
    env = {k: v for k, v in server.env.items() if k != "KICKFLOW_DATABASE_URL"}
    env["KICKFLOW_DATA_DIR"] = str(tmp_path / "worker-data")  # empty, its own
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kickflow", "worker", "--server", server.url, "--token",
         worker_token, "--concurrency", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        uploaded = [upload(server, short_clip.read_bytes(), f"ep{i}.mp4") for i in range(2)]
        with server.client() as c:
            reply = c.post(
                JOBS,
                json={
                    "source": {"type": "path", "path": str(server.media_root / "on-the-nas.mp4")}
                },
            )
            assert reply.status_code == 201, reply.text
            ids = [*uploaded, reply.json()["id"]]

            def all_done() -> bool:
                states = [c.get(f"{JOBS}/{i}").json()["state"] for i in ids]
                errors = [c.get(f"{JOBS}/{i}").json().get("lastError") for i in ids]
                assert "failed" not in states, errors
                return all(s == "completed" for s in states)

            wait_for(all_done, 120, "the HTTP worker to complete every job")
            report = c.get(f"{JOBS}/{ids[0]}/report").json()
            assert report["input"]["name"] == "ep0.mp4"
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    text = (tmp_path / "worker.log").read_text()
    assert "action=completed" in text and "action=worker_stopped" in text
    assert not (tmp_path / "worker-data" / "kickflow.db").exists()


# --- refusals ----------------------------------------------------------------------------


def test_tokens_and_versions_are_checked(server: Server, worker_token: str) -> None:
    body = {"worker_id": "w", "limit": 1}
    with httpx.Client(base_url=server.url, timeout=30) as c:
        anonymous = c.post(f"{wire.PREFIX}/claim", json=body, headers=V)
        assert anonymous.status_code == 401
        admin = c.post(
            f"{wire.PREFIX}/claim",
            json=body,
            headers=V | {"Authorization": f"Bearer {server.token}"},
        )
        assert admin.status_code == 403 and admin.json()["error"]["code"] == "forbidden"
        auth = {"Authorization": f"Bearer {worker_token}"}
        for sent in ({}, {wire.VERSION_HEADER: "0"}, {wire.VERSION_HEADER: "x" * 500}):
            old = c.post(f"{wire.PREFIX}/claim", json=body, headers=auth | sent)
            assert old.status_code == 426, old.text
            error = old.json()["error"]
            assert error["code"] == "protocol_version" and "protocol 1" in error["message"]
        user_api = c.get(JOBS, headers=auth)
        assert user_api.status_code == 403
        assert "worker API" in user_api.json()["error"]["message"]
        revoked = server.token_for("local", "worker")
        server.revoke(revoked)
        refused = c.post(
            f"{wire.PREFIX}/claim", json=body, headers=V | {"Authorization": f"Bearer {revoked}"}
        )
        assert refused.status_code == 401


def test_cli_worker_refuses_bad_configuration(server: Server, tmp_path: Path) -> None:
    env = {k: v for k, v in server.env.items() if not k.startswith("KICKFLOW_DATABASE")}
    env["KICKFLOW_DATA_DIR"] = str(tmp_path)
    cases = [
        (["--server", server.url, "--token", "kf_not-a-real-token"], "refused the worker token"),
        (["--server", "ftp://example.invalid", "--token", "t"], "is not an http(s) URL"),
        (["--server", server.url], "no worker token"),
    ]
    for args, expected in cases:
        done = subprocess.run(
            [sys.executable, "-m", "kickflow", "worker", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr
    sqlite = {**env, "KICKFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/kf.db"}
    done = subprocess.run(
        [sys.executable, "-m", "kickflow", "worker"],
        env=sqlite, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--server" in done.stderr and "Traceback" not in done.stderr


# --- leases, replays and downloads -------------------------------------------------------


def test_fenced_calls_and_replayed_results(
    server: Server, remote: HttpWorkerStore, short_clip: Path
) -> None:
    job_id = upload(server, short_clip.read_bytes())
    claimed = claim_job(remote, job_id)
    assert remote.heartbeat(claimed.lease, 50.0, "analyzing").lease_held
    forged = type(claimed.lease)(job_id, "not-the-token", claimed.lease.attempt, "proto-test")
    with pytest.raises(LeaseLost):
        remote.complete(forged, "passed", {"verdict": "passed"})
    assert not remote.heartbeat(forged, 50.0, "analyzing").lease_held
    done = remote.complete(claimed.lease, "passed", {"verdict": "passed"})
    assert done.state.value == "completed"
    again = remote.complete(claimed.lease, "passed", {"verdict": "passed"})  # a lost reply
    assert again.state.value == "completed"
    with server.client() as c:
        history = c.get(f"{JOBS}/{job_id}").json()["history"]
    kinds = [e["kind"] for e in history]
    assert kinds.count("completed") == 1
    fenced = [e for e in history if e["kind"] == "fenced"]
    assert len(fenced) == 2  # the forged complete and the forged heartbeat, not the replay
    with pytest.raises(LeaseLost):
        remote.fail(claimed.lease, "ffmpeg_failed", "late", permanent=False)


def test_download_with_range_and_checksum(
    server: Server, remote: HttpWorkerStore, worker_token: str, short_clip: Path, tmp_path: Path
) -> None:
    content = short_clip.read_bytes()
    job_id = upload(server, content)
    claimed = claim_job(remote, job_id)
    url = f"{wire.PREFIX}/leases/{job_id}/file"
    auth = V | {"Authorization": f"Bearer {worker_token}"}
    with httpx.Client(base_url=server.url, timeout=30) as c:
        whole = c.get(url, headers=auth | {wire.LEASE_TOKEN_HEADER: claimed.lease.token})
        assert whole.status_code == 200 and whole.content == content
        assert whole.headers[wire.SHA256_HEADER] == hashlib.sha256(content).hexdigest()
        part = c.get(
            url,
            headers=auth | {wire.LEASE_TOKEN_HEADER: claimed.lease.token, "Range": "bytes=100-"},
        )
        assert part.status_code == 206 and part.content == content[100:]
        assert part.headers["Content-Range"] == f"bytes 100-{len(content) - 1}/{len(content)}"
        bad = c.get(
            url, headers=auth | {wire.LEASE_TOKEN_HEADER: claimed.lease.token, "Range": "bytes=0-9"}
        )
        assert bad.status_code == 400
        stranger = c.get(url, headers=auth | {wire.LEASE_TOKEN_HEADER: "wrong"})
        assert stranger.status_code == 409 and stranger.json()["error"]["code"] == "lease_lost"
    seen: list[int] = []
    got = remote.fetch(claimed.job, claimed.lease, tmp_path, lambda d, _t: seen.append(d))
    assert got.read_bytes() == content and seen[-1] == len(content)
    remote.release(claimed.lease, "test done")


class CuttingProxy:
    """A loopback TCP proxy in front of the service: ``cut_after`` bytes of the first reply
    that is longer than that are passed on and the connection is then dropped; ``flip`` turns
    one byte of the body of the next long reply."""

    def __init__(self, target: str, cut_after: int = 0, flip: bool = False) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.cut_after, self.flip = cut_after, flip
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.cuts = self.ranged = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
        sent = 0
        with client, upstream:
            while data := upstream.recv(65536):
                if self.flip and sent + len(data) > 100_000:  # inside the file, past any JSON
                    data = bytearray(data)
                    data[-1] ^= 0xFF
                    self.flip = False
                    data = bytes(data)
                if self.cut_after and sent + len(data) > self.cut_after:
                    client.sendall(data[: self.cut_after - sent])
                    self.cut_after = 0
                    self.cuts += 1
                    client.shutdown(socket.SHUT_RDWR)  # a FIN now, even with a reader blocked
                    upstream.shutdown(socket.SHUT_RDWR)
                    return
                client.sendall(data)
                sent += len(data)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if b"\r\nrange: bytes=" in data.lower():
                    self.ranged += 1
                dst.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("fault", ["cut", "flip"])
def test_download_survives_a_cut_and_catches_corruption(
    server: Server, worker_token: str, tmp_path: Path, fault: str
) -> None:
    content = os.urandom(1_000_000)  # the download does not look inside
    proxy = CuttingProxy(
        server.url, cut_after=150_000 if fault == "cut" else 0, flip=fault == "flip"
    )
    settings = worker_settings(server, tmp_path / "w")
    store = HttpWorkerStore(proxy.url, worker_token, settings)
    try:
        job_id = upload(server, content, "blob.mp4")
        claimed = claim_job(store, job_id)
        if fault == "cut":
            got = store.fetch(claimed.job, claimed.lease, tmp_path, lambda d, t: None)
            assert got.read_bytes() == content and proxy.cuts == 1
            assert proxy.ranged == 1  # resumed where the cut left it, not from the start
        else:
            with pytest.raises(ChecksumMismatch, match="sha256"):
                store.fetch(claimed.job, claimed.lease, tmp_path, lambda d, t: None)
            assert not list(tmp_path.glob("input*"))
        store.release(claimed.lease, "test done")
    finally:
        store.close()
        proxy.close()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = [item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item]
    return dict(pairs)  # type: ignore[arg-type]


def test_embedded_slots_hold_no_database_url(tmp_path: Path, short_clip: Path) -> None:
    server = start_server(tmp_path, f"sqlite:///{tmp_path}/kf.db", workers=1)
    try:
        with server.client() as c:
            path = server.media_root / "e.mp4"
            path.write_bytes(short_clip.read_bytes())
            job = c.post(JOBS, json={"source": {"type": "path", "path": str(path)}}).json()
            wait_for(
                lambda: c.get(f"{JOBS}/{job['id']}").json()["state"] == "completed",
                120, "the embedded slot to complete the job",
            )  # fmt: skip
            workers = c.get("/api/qc/debug").json()["workers"]
        slot_pids = [int(w["pid"]) for w in workers if w["state"] == "running"]
        assert slot_pids
        for pid in slot_pids:
            env: dict[str, Any] = _environ(pid)
            assert "KICKFLOW_DATABASE_URL" not in env
            assert env["KICKFLOW_SERVER_URL"].startswith("http://127.0.0.1:")
    finally:
        assert server.stop() == 0
    assert os.path.exists(f"{tmp_path}/kf.db")
