"""``kickflow serve`` and ``kickflow admin`` as real processes: first run, tokens, and the stuck
scenario end to end (a worker frozen with SIGSTOP is detected, recovered by the reaper, and the
job is completed by another worker)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from tests.fixtures_media import H264_AAC, MediaFactory
from tests.fixtures_server import BACKENDS, Server, start_server, wait_for

JOBS = "/api/qc/jobs"
# The job that gets frozen must still be running several seconds after it is claimed.
LONG_CLIP = [
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:d=300",
    "-f", "lavfi", "-i", "sine=f=1000:d=300", *H264_AAC,
]  # fmt: skip
STUCK_TIMINGS = {
    "KICKFLOW_LEASE_SECONDS": "3",
    "KICKFLOW_HEARTBEAT_SECONDS": "0.5",
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "8",
    "KICKFLOW_STUCK_AFTER_SECONDS": "30",
}


@pytest.fixture(scope="module")
def long_clip(make_media: MediaFactory) -> Path:
    return make_media("long-300s.mp4", LONG_CLIP)


def health(server: Server) -> dict[str, Any]:
    reply = httpx.get(f"{server.url}/api/health/full", timeout=30)
    assert reply.status_code == 200
    return dict(reply.json())


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return dict(client.get(f"{JOBS}/{job_id}").json())


def test_first_run_prints_a_token_once(tmp_path: Path) -> None:
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert server.token.startswith("kf_")
        wait_for(lambda: "Uvicorn running" in "".join(server.output), 30, "the start-up log")
        assert "".join(server.output).count(server.token) == 1  # stdout and stderr together
        assert server.token not in (server.data_dir / "log" / "kickflow.log").read_text()
        assert '"Authorization: Bearer $KICKFLOW_TOKEN"' in "".join(server.output)
        with server.client() as c:
            assert c.get(JOBS).json() == {"jobs": [], "nextCursor": None}
            assert c.get("/api/qc/debug").status_code == 200  # an admin token
        page = httpx.get(server.url + "/", follow_redirects=True)  # signed out: the sign-in page
        assert page.status_code == 200 and "KickFlow QC" in page.text
        assert page.url.path == "/login"
    finally:
        assert server.stop() == 0
    again = start_server(tmp_path, server.db_url)
    try:
        assert again.token == ""
        assert "printed on the first run only" in "".join(again.output)
        with again.client(server.token) as c:
            assert c.get(JOBS).status_code == 200
    finally:
        again.stop()


SIGN_IN_LINK = re.compile(r"Open http://127\.0\.0\.1:(\d+)/invite/(\S+) to create the local admin")


def _sign_in_secret(server: Server) -> str | None:
    """The secret of the sign-in link this start printed (None: no link), checked to be on
    the server's own address, printed once and never logged."""
    text = "".join(server.output)
    found = SIGN_IN_LINK.search(text)
    if found is None:
        assert "/invite/" not in text
        return None
    port, secret = found.groups()
    assert server.url.endswith(f":{port}") and text.count(secret) == 1
    assert secret not in (server.data_dir / "log" / "kickflow.log").read_text()
    return secret


def test_first_run_prints_a_sign_in_link_until_someone_has_an_account(tmp_path: Path) -> None:
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'people.db'}")
    try:
        wait_for(lambda: "Uvicorn running" in "".join(server.output), 30, "the start-up log")
        first = _sign_in_secret(server)
        assert first is not None and server.token.startswith("kf_"), "beside the token"
    finally:
        assert server.stop() == 0
    again = start_server(tmp_path, server.db_url)
    try:
        second = _sign_in_secret(again)
        assert second is not None and second != first, "not used yet: a fresh link"
    finally:
        again.stop()
    store = SqlJobStore(server.db_url, Settings(database_url=server.db_url))
    try:
        old, new = store.invitation_by_secret(first), store.invitation_by_secret(second)
        assert old is not None and old.state == "revoked", "one valid link at a time"
        assert new is not None and new.state == "pending"
        assert (new.org_name, new.role, new.email) == ("local", "admin", "admin@localhost")
        assert new.expires_at - new.created_at == 24 * 3600
    finally:
        store.close()
    made = subprocess.run(
        [sys.executable, "-m", "kickflow", "admin", "create-user", "me@example.com",
         "--org", "local", "--password-stdin"],
        input="correct horse battery\n", env=server.env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    third = start_server(tmp_path, server.db_url)
    try:
        assert _sign_in_secret(third) is None, "the local organisation has a member now"
    finally:
        third.stop()


def test_admin_cli_issues_scoped_tokens_and_revokes_them(tmp_path: Path) -> None:
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'admin.db'}")
    try:
        assert server.kickflow("admin", "create-org", "studio-b").returncode == 0
        made = server.kickflow("admin", "create-token", "--org", "studio-b", "--role", "viewer")
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        assert token.startswith("kf_") and "not shown again" in made.stderr
        with server.client(token) as c:
            assert c.get(JOBS).json()["jobs"] == []
            assert c.post(JOBS, json={"source": {"type": "path", "path": "/x"}}).status_code == 403
            revoked = server.kickflow("admin", "revoke-token", token)
            assert revoked.returncode == 0, revoked.stderr
            assert c.get(JOBS).status_code == 401
        bad = server.kickflow("admin", "create-token", "--org", "nope", "--role", "admin")
        assert bad.returncode == 2 and "no organisation 'nope'" in bad.stderr
        bad = server.kickflow("admin", "create-token", "--org", "studio-b", "--role", "root")
        assert bad.returncode == 2 and "--role" in bad.stderr
        assert server.kickflow("admin", "create-org", "studio-b").returncode == 2
    finally:
        server.stop()


@pytest.fixture(params=BACKENDS)
def stuck_server(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    empty_database_url: Callable[[str], str],
) -> Iterator[Server]:
    """``kickflow serve --workers 1`` with short leases and an 8 s reaper interval."""
    server = start_server(tmp_path, empty_database_url(request.param), workers=1, env=STUCK_TIMINGS)
    try:
        yield server
    finally:
        server.stop()


def _service_reaper_just_ran(server: Server) -> bool:
    next_run = health(server)["reaper"]["details"]["next_run_in_seconds"]
    return next_run is not None and next_run > 6.0


def _worker_pid(client: httpx.Client, worker_id: str) -> int:
    workers = client.get("/api/qc/debug").json()["workers"]
    return int(next(w["pid"] for w in workers if w["id"] == worker_id))


def _start_worker(server: Server) -> subprocess.Popen[bytes]:
    """A separate worker process, a client of the service (no database access)."""
    env = {k: v for k, v in server.env.items() if k != "KICKFLOW_DATABASE_URL"}
    env["KICKFLOW_WORKER_TOKEN"] = server.token_for("local", "worker")
    return subprocess.Popen(
        [sys.executable, "-m", "kickflow", "worker", "--server", server.url, "--concurrency", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_frozen_worker_is_detected_recovered_and_completed_elsewhere(
    stuck_server: Server, long_clip: Path
) -> None:
    server = stuck_server
    clip = shutil.copy(long_clip, server.media_root / "episode.mp4")
    with server.client() as c:
        wait_for(lambda: health(server)["qc_worker"]["details"]["workers"] == 1, 30, "the slot")
        # Freeze right after the service's reaper pass, so the stuck job stays visible for
        # most of the 8 s interval before the next pass recovers it.
        wait_for(lambda: _service_reaper_just_ran(server), 20, "a service reaper pass")
        job_id = c.post(JOBS, json={"source": {"type": "path", "path": str(clip)}}).json()["id"]
        running = wait_for(
            lambda: (j := job(c, job_id))["state"] == "running" and j["progress"] > 0 and j,
            10,
            "the job to run",
            interval=0.02,
        )
        frozen = _worker_pid(c, running["workerId"])
        os.kill(frozen, signal.SIGSTOP)
        other: subprocess.Popen[bytes] | None = None
        try:
            stuck = wait_for(
                lambda: (h := health(server))["qc_worker"]["details"]["stuck"] >= 1 and h,
                10,
                "health to report the stuck job",
            )
            assert stuck["status"] == "error"
            assert stuck["qc_worker"]["status"] == "error"
            debug = c.get("/api/qc/debug").json()
            assert [s["id"] for s in debug["stuckJobs"]] == [job_id]
            assert debug["stuckJobs"][0]["lastHeartbeatAt"]

            recovered = wait_for(
                lambda: any(e["kind"] == "reaped" for e in job(c, job_id)["history"]),
                15,
                "the reaper to recover the job",
            )
            assert recovered
            reaped = next(e for e in job(c, job_id)["history"] if e["kind"] == "reaped")
            assert reaped["code"] == "lease_expired"

            other = _start_worker(server)
            done = wait_for(
                lambda: (j := job(c, job_id))["state"] in {"completed", "failed"} and j,
                90,
                "another worker to finish the job",
            )
            assert done["state"] == "completed", done["lastError"]
            assert done["attempt"] == 2
            assert done["workerId"] is None
            claims = [e["workerId"] for e in done["history"] if e["kind"] == "claimed"]
            assert len(claims) == 2 and claims[0] != claims[1]
            final = wait_for(
                lambda: (h := health(server))["status"] == "ok" and h, 30, "health back to ok"
            )
            assert final["qc_worker"]["details"]["stuck"] == 0

            # The frozen worker wakes up: its writes are fenced off and counted.
            os.kill(frozen, signal.SIGCONT)
            wait_for(
                lambda: _metric(server, "kickflow_fenced_writes_total") >= 1,
                20,
                "the woken worker's rejected write",
            )
            assert job(c, job_id)["state"] == "completed"
            assert _metric(server, 'kickflow_recoveries_total{reason="lease_expired"}') >= 1
        finally:
            _cleanup(frozen, other)


def _metric(server: Server, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _cleanup(frozen: int, other: subprocess.Popen[bytes] | None) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(frozen, signal.SIGCONT)
    if other is not None:
        other.send_signal(signal.SIGTERM)
        assert other.wait(timeout=30) == 0


def test_trigger_worker_wakes_an_idle_slot_at_once(tmp_path: Path) -> None:
    # Idle slots look for work every 120 s here: only the wake-up can start the job sooner.
    env = {"KICKFLOW_POLL_SECONDS": "120"}
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'wake.db'}", workers=1, env=env)
    try:
        notes = server.media_root / "notes.mov"
        notes.write_text("not media")
        with server.client() as c:
            wait_for(lambda: health(server)["qc_worker"]["details"]["workers"] == 1, 30, "slot")
            job_id = c.post(JOBS, json={"source": {"type": "path", "path": str(notes)}}).json()
            reply = c.post("/api/qc/debug", json={"action": "trigger_worker"}).json()
            assert reply["woken"] == [0] and reply["restarted"] == []
            assert "woke 1 slot" in reply["message"]
            wait_for(lambda: job(c, job_id["id"])["state"] == "failed", 20, "the job to run")
    finally:
        server.stop()
