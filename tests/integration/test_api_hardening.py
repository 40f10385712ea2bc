"""Hardening: unsafe start-up settings refused, control characters refused in free text, strict
event-stream ids, token usage marks, the operator role and organisation-scoped ops actions,
the first-run token shown once. Database tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from kickflow.api import views
from kickflow.api.auth import UsageMarks
from kickflow.api.slots import Slot, WorkerSlots, may_replace
from kickflow.cli import errors as cli_errors
from kickflow.cli import serve, worker
from kickflow.config import Settings, get_settings
from kickflow.errors import UnsafeConfiguration
from kickflow.jobs import JobStore, SqlJobStore
from kickflow.jobs.accounts import authenticate, create_org, create_token, mark_used
from kickflow.jobs.db import make_engine, read_tx, write_tx
from kickflow.jobs.models import Job, JobEvent, Lease
from kickflow.jobs.schema import api_tokens, jobs
from kickflow.jobs.sources import check_data_dir_outside_roots
from kickflow.jobs.states import JobState
from kickflow.worker.messages import redact
from kickflow.worker.pipeline import for_owner
from tests.fixtures_server import BACKENDS, Server, start_server, wait_for

JOBS = "/api/qc/jobs"
DEBUG = "/api/qc/debug"
CONTROL = ["\x00", "\x1b[31m", "\x07", "\r\n", "\x7f", "\x9b"]
# No reaper and long leases: the tests make jobs stuck themselves and nothing recovers them.
QUIET = {
    "KICKFLOW_REAPER_INTERVAL_SECONDS": "86400",
    "KICKFLOW_LEASE_SECONDS": "600",
    "KICKFLOW_STUCK_AFTER_SECONDS": "600",
}


# --- start-up refusal -----------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, str]], None]]:
    def apply(env: dict[str, str]) -> None:
        for key in [k for k in os.environ if k.startswith("KICKFLOW_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The command in-process with typer's runner, under the CLI's one error handler."""
    app = typer.Typer(pretty_exceptions_enable=False)
    serve.register(app)
    worker.register(app)
    with pytest.raises(SystemExit) as exited, cli_errors.handled(verbose=False):
        CliRunner().invoke(app, args, catch_exceptions=False)
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("layout", ["data_inside_root", "root_inside_data", "same"])
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_a_data_dir_overlapping_a_root(
    tmp_path: Path,
    cli_env: Callable[[dict[str, str]], None],
    capsys: pytest.CaptureFixture[str],
    layout: str,
    command: str,
) -> None:
    data, root = {
        "data_inside_root": (tmp_path / "media" / "var", tmp_path / "media"),
        "root_inside_data": (tmp_path / "var", tmp_path / "var" / "uploads"),
        "same": (tmp_path / "var", tmp_path / "var"),
    }[layout]
    other = tmp_path / "elsewhere"
    cli_env({
        "KICKFLOW_DATA_DIR": str(data),
        "KICKFLOW_ALLOWED_ROOTS": os.pathsep.join([str(other), str(root)]),
        "KICKFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
    })  # fmt: skip
    code, err = _run_cli([command], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kickflow: KICKFLOW_DATA_DIR ("), err
    assert "KICKFLOW_ALLOWED_ROOTS" in err and "Traceback" not in err
    assert not (tmp_path / "never.db").exists() and not (data / "log").exists()


def test_separate_directories_pass_the_check(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", allowed_roots=str(tmp_path / "var-media"))
    check_data_dir_outside_roots(settings)  # a name prefix is not containment
    alias = tmp_path / "alias"
    alias.symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafeConfiguration):  # resolved: the alias contains the data dir
        check_data_dir_outside_roots(Settings(data_dir=tmp_path / "v", allowed_roots=str(alias)))


def test_kickflow_serve_process_exits_2_with_one_sentence(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KICKFLOW_")}
    env |= {"KICKFLOW_DATA_DIR": str(tmp_path / "var"), "KICKFLOW_ALLOWED_ROOTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "kickflow", "serve", "--port", "1"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr


# --- a live server per backend --------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    empty_database_url: Callable[[str], str],
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp(f"hardening-{request.param}")
    srv = start_server(base, empty_database_url(request.param), env=QUIET)
    (srv.media_root / "clip.mov").write_bytes(b"not really media")
    try:
        yield srv
    finally:
        srv.stop()


def _error(reply: httpx.Response, status: int) -> str:
    assert reply.status_code == status, reply.text
    return str(reply.json()["error"]["message"])


def _path_job(server: Server, **extra: Any) -> dict[str, Any]:
    return {"source": {"type": "path", "path": str(server.media_root / "clip.mov")}, **extra}


def _jobs_of(server: Server, token: str) -> list[dict[str, Any]]:
    with server.client(token) as c:
        return list(c.get(JOBS, params={"limit": 200}).json()["jobs"])


def test_the_first_run_token_is_printed_once_and_never_logged(server: Server) -> None:
    wait_for(lambda: "Uvicorn running" in "".join(server.output), 30, "the start-up lines")
    assert "".join(server.output).count(server.token) == 1
    assert server.token not in (server.data_dir / "log" / "kickflow.log").read_text()


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize("field", ["project", "idempotencyKey", "profile"])
def test_control_characters_in_free_text_are_422(server: Server, field: str, char: str) -> None:
    org = f"ctl-{uuid.uuid4().hex[:8]}"
    token = server.token_for(org, "member")
    value = f"spring{char}launch"
    with server.client(token) as c:
        as_json = c.post(JOBS, json=_path_job(server, **{field: value}))
        as_form = c.post(JOBS, data={field: value}, files={"file": ("a.mov", b"x")})
    for reply in (as_json, as_form):
        message = _error(reply, 422)
        assert message.startswith(f"{field}: "), message
    assert _jobs_of(server, token) == []
    with server.client(token) as c:  # the same text without the control character is fine
        ok = c.post(JOBS, json=_path_job(server, **{field: "spring launch"}))
    if field == "profile":
        assert _error(ok, 400).startswith("profile: unknown profile")
    else:
        assert ok.status_code == 201, ok.text


def test_control_characters_in_query_text_are_refused(server: Server) -> None:
    with server.client() as c:
        assert c.get(JOBS, params={"project": "a\x1bb"}).status_code == 422
        bad = c.get("/api/qc/progress", params={"jobIds": "ab\x1bc,abc"})
        assert "not a job id" in _error(bad, 400)


def _events(
    server: Server, token: str, headers: dict[str, str], until: Callable[[list[Any]], bool]
) -> list[tuple[str, str, Any]]:
    """(id, event, data) of the stream until ``until(events)``; fails after 20 s."""
    got: list[tuple[str, str, Any]] = []
    current: dict[str, str] = {}
    deadline = time.monotonic() + 20
    with (
        server.client(token, timeout=httpx.Timeout(20, read=10.0)) as c,
        c.stream("GET", "/api/qc/events", headers=headers) as reply,
    ):
        assert reply.status_code == 200, reply.read()
        for line in reply.iter_lines():
            if line.startswith(("id: ", "event: ", "data: ")):
                key, _, value = line.partition(": ")
                current[key] = value
            elif not line and "data" in current:
                got.append((current["id"], current["event"], json.loads(current["data"])))
                current = {}
                if until(got):
                    return got
            assert time.monotonic() < deadline, got
    return got


@pytest.mark.parametrize(
    "value", ["nan", "NaN", "inf", "-inf", "-1", "1e3", "0x10", "1.5", "+5", "1" * 18, "١٢"]
)
def test_bad_last_event_ids_are_400(server: Server, value: str) -> None:
    with server.client(timeout=10) as c:
        reply = c.get("/api/qc/events", headers={"Last-Event-ID": value.encode()})
    assert "Last-Event-ID" in _error(reply, 400)


def test_event_ids_are_integers_and_a_reconnecting_client_resumes(server: Server) -> None:
    token = server.token_for(f"sse-{uuid.uuid4().hex[:8]}", "member")

    def submit() -> str:
        with server.client(token) as c:
            return str(c.post(JOBS, json=_path_job(server)).json()["id"])

    ready = _events(server, token, {}, bool)
    assert ready[0][1] == "ready" and ready[0][0].isdigit()
    assert ready[0][2] == {"since": int(ready[0][0])}
    first = submit()
    seen = _events(
        server, token, {"Last-Event-ID": ready[0][0]},
        lambda ev: any(d.get("id") == first for _, _, d in ev),
    )  # fmt: skip
    last_id = seen[-1][0]
    assert all(i.isdigit() for i, _, _ in seen)
    second = submit()
    resumed = _events(
        server, token, {"Last-Event-ID": last_id},
        lambda ev: any(d.get("id") == second for _, _, d in ev),
    )  # fmt: skip
    assert resumed[0][:2] == (last_id, "ready")
    assert all(int(i) >= int(last_id) for i, _, _ in resumed)
    from_zero = _events(
        server, token, {"Last-Event-ID": "0"},
        lambda ev: {first, second} <= {d.get("id") for _, _, d in ev},
    )  # fmt: skip
    assert [i for i, _, _ in from_zero[1:]] == sorted(i for i, _, _ in from_zero[1:])


def _last_used(server: Server, token_id: str) -> float | None:
    engine = make_engine(server.db_url)
    try:
        with read_tx(engine) as conn:
            stmt = sa.select(api_tokens.c.last_used_at).where(api_tokens.c.id == token_id)
            value = conn.execute(stmt).scalar()
            return None if value is None else float(value)
    finally:
        engine.dispose()


def test_last_used_at_is_set_on_use_and_not_rewritten_within_a_minute(server: Server) -> None:
    token = server.token_for(f"use-{uuid.uuid4().hex[:8]}", "viewer")
    token_id = _token_id(server, token)
    assert _last_used(server, token_id) is None
    with server.client(token) as c:
        assert c.get(JOBS).status_code == 200
        first = wait_for(lambda: _last_used(server, token_id), 10, "last_used_at")
        for _ in range(5):
            assert c.get(JOBS).status_code == 200
    assert _last_used(server, token_id) == first  # within the minute: marked once


def _token_id(server: Server, secret: str) -> str:
    engine = make_engine(server.db_url)
    try:
        with read_tx(engine) as conn:
            principal = authenticate(conn, secret)
    finally:
        engine.dispose()
    assert principal is not None
    return principal.token_id


@pytest.fixture
def marks_store(store: JobStore) -> Iterator[tuple[JobStore, str]]:
    with write_tx(store.engine) as conn:
        token = create_token(conn, create_org(conn, "marks"), "viewer")
    yield store, token.secret


def _authenticated(store: JobStore, secret: str) -> Any:
    with read_tx(store.engine) as conn:
        return authenticate(conn, secret)


def _stored_last_used(store: JobStore, token_id: str) -> float | None:
    with read_tx(store.engine) as conn:
        stmt = sa.select(api_tokens.c.last_used_at).where(api_tokens.c.id == token_id)
        return conn.execute(stmt).scalar()  # type: ignore[no-any-return]


def test_usage_marks_write_at_most_once_a_minute(marks_store: tuple[JobStore, str]) -> None:
    store, secret = marks_store
    now = [1000.0]
    marks = UsageMarks(clock=lambda: now[0])
    principal = _authenticated(store, secret)
    assert marks.note(store, principal)
    first = wait_for(lambda: _stored_last_used(store, principal.token_id), 10, "the mark")
    assert not marks.note(store, _authenticated(store, secret))  # the row: just written
    now[0] += 59
    assert not marks.note(store, principal)  # a stale read, but this process marked 59 s ago
    with write_tx(store.engine) as conn:  # a minute later (database time)
        conn.execute(sa.update(api_tokens).values(last_used_at=api_tokens.c.last_used_at - 61))
    now[0] += 2
    assert marks.note(store, _authenticated(store, secret))
    wait_for(
        lambda: (_stored_last_used(store, principal.token_id) or 0) >= first - 1,
        10,
        "the mark of the next minute",
    )


def test_concurrent_marks_write_once(marks_store: tuple[JobStore, str]) -> None:
    store, secret = marks_store
    token_id = _authenticated(store, secret).token_id
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def mark() -> None:
        barrier.wait()
        with write_tx(store.engine) as conn:
            results.append(mark_used(conn, token_id))

    threads = [threading.Thread(target=mark) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False] * 5 + [True]


# --- roles and organisation scope of the ops actions ---------------------------------------


def test_operator_tokens_come_from_the_cli(server: Server) -> None:
    org = f"ops-{uuid.uuid4().hex[:6]}"
    assert server.kickflow("admin", "create-org", org).returncode == 0
    done = server.kickflow("admin", "create-token", "--org", org, "--role", "operator")
    assert done.returncode == 0, done.stderr
    with server.client(done.stdout.strip()) as c:
        assert c.get(DEBUG).status_code == 200
    bad = server.kickflow("admin", "create-token", "--org", org, "--role", "root")
    assert bad.returncode == 2 and "operator" in bad.stderr


def _stuck_jobs(server: Server, tokens: dict[str, str]) -> dict[str, str]:
    """One running job per organisation of ``tokens``, claimed by a fake worker whose lease
    has expired: stuck. Returns org key -> job id."""
    ids = {}
    for key, token in tokens.items():
        with server.client(token) as c:
            ids[key] = c.post(JOBS, json=_path_job(server)).json()["id"]
    store = SqlJobStore(server.db_url)
    try:
        running: set[str] = set()
        for _ in range(50):
            for claimed in store.claim(f"fake-{uuid.uuid4().hex[:6]}"):
                running.add(claimed.job.id)
            if set(ids.values()) <= running:
                break
        assert set(ids.values()) <= running
        with write_tx(store.engine) as conn:
            conn.execute(
                sa.update(jobs).where(jobs.c.id.in_(list(ids.values()))).values(lease_expires_at=0)
            )
    finally:
        store.close()
    return ids


def _state(server: Server, job_id: str) -> str:
    store = SqlJobStore(server.db_url)
    try:
        return store.get(None, job_id).state.value
    finally:
        store.close()


@pytest.fixture
def orgs(server: Server) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {
        "a": server.token_for(f"a-{tag}", "admin"),
        "b": server.token_for(f"b-{tag}", "admin"),
        "a_member": server.token_for(f"a-{tag}", "member"),
        "operator": server.token_for(f"ops-{tag}", "operator"),
    }


@pytest.mark.parametrize("action", ["retry_stuck", "cancel_stuck"])
def test_stuck_actions_stay_in_the_organisation_unless_an_operator_asks(
    server: Server, orgs: dict[str, str], action: str
) -> None:
    ids = _stuck_jobs(server, {"a": orgs["a"], "b": orgs["b"]})
    everyone = {"action": action, "allOrganisations": True}
    with server.client(orgs["a"]) as a:
        assert "operator" in _error(a.post(DEBUG, json=everyone), 403)
        assert "operator" in _error(a.get(DEBUG, params={"allOrganisations": "true"}), 403)
        done = a.post(DEBUG, json={"action": action}).json()
    assert [j["id"] for j in done["jobs"]] == [ids["a"]]
    assert _state(server, ids["b"]) == "running"
    with server.client(orgs["a_member"]) as member:
        _error(member.post(DEBUG, json=everyone), 403)
    with server.client(orgs["operator"]) as op:
        assert op.post(DEBUG, json={"action": action}).json()["jobs"] == []  # its own org
        overview = op.get(DEBUG, params={"allOrganisations": "true"}).json()
        assert ids["b"] in {j["id"] for j in overview["stuckJobs"]}
        done = op.post(DEBUG, json=everyone).json()
    assert ids["b"] in {j["id"] for j in done["jobs"]} and ids["a"] not in str(done["jobs"])
    assert _state(server, ids["b"]) == ("queued" if action == "retry_stuck" else "cancelled")


def test_other_ops_routes_are_scoped(server: Server, orgs: dict[str, str]) -> None:
    ids = _stuck_jobs(server, {"b": orgs["b"]})
    with server.client(orgs["a"]) as a:
        for reply in (
            a.post(DEBUG, json={"action": "retry_specific", "jobId": ids["b"]}),
            a.post("/api/qc/reprocess", json={"jobIds": [ids["b"]]}),
            a.post("/api/qc/cancel", json={"jobId": ids["b"]}),
            a.post("/api/qc/pause", json={"jobIds": [ids["b"]], "action": "pause"}),
        ):
            assert ids["b"] in _error(reply, 404)
        assert a.post("/api/qc/cancel", json={"all": True}).json()["jobs"] == []
        assert ids["b"] not in json.dumps(a.get(DEBUG).json())
        _error(a.post(DEBUG, json={"action": "trigger_worker", "allOrganisations": True}), 403)
    with server.client(orgs["operator"]) as op:
        refused = op.post(
            DEBUG, json={"action": "retry_specific", "jobId": ids["b"], "allOrganisations": True}
        )
        assert "retry_stuck" in _error(refused, 400)
    assert _state(server, ids["b"]) == "running"


# --- trigger_worker on the embedded slots ---------------------------------------------------


class SleepySlots(WorkerSlots):
    """Slots whose processes just sleep (ignoring the wake-up signal, as real slots handle
    it): the test registers them as workers itself."""

    def command(self) -> list[str]:
        return ["sh", "-c", "trap '' USR1; exec sleep 120"]


def _ignores_usr1(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = int(
        next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
    )
    return bool(ignored & (1 << (10 - 1)))  # SIGUSR1 is 10 on Linux


def _sleepy_slot(store: JobStore, settings: Settings) -> tuple[SleepySlots, str]:
    """One sleepy slot, registered as a live worker on this host; returns it and its id."""
    slots = SleepySlots(
        1, settings, store, settings.data_dir / "slots.log",
        server_url="http://127.0.0.1:9", token="unused-by-sleepy-slots",
    )  # fmt: skip
    slots.slots = [slots._spawn(0)]
    pid = slots.slots[0].process.pid
    wait_for(lambda: _ignores_usr1(pid), 30, "the slot to ignore SIGUSR1")
    worker_id = f"{os.uname().nodename}-{pid}-test"
    store.register_worker(worker_id, os.uname().nodename, pid, 1)
    return slots, worker_id


def test_may_replace() -> None:
    assert may_replace(None, {"a", "b"})
    assert may_replace("a", set()) and may_replace("a", {"a"})
    assert not may_replace("a", {"b"}) and not may_replace("a", {"a", "b"})


def test_an_admins_trigger_worker_leaves_another_organisations_slot_alone(
    store: JobStore, job_settings: Settings
) -> None:
    org_a, org_b = store.create_org("slots-a"), store.create_org("slots-b")
    media = Path(job_settings.allowed_roots.split(os.pathsep)[0]) / "clip.mov"
    media.write_bytes(b"x")
    store.enqueue(org_b, "path", str(media), file_name="clip.mov")
    slots, worker_id = _sleepy_slot(store, job_settings)
    pid = slots.slots[0].process.pid
    try:
        (claimed,) = store.claim(worker_id)
        assert claimed.job.org_id == org_b
        with write_tx(store.engine) as conn:  # its lease expires: the slot holds a stuck job
            conn.execute(sa.update(jobs).values(lease_expires_at=0))
        assert store.stuck_jobs(org_b)
        as_a = slots.trigger(org_a)
        assert as_a["restarted"] == [] and len(as_a["leftAlone"]) == 1  # type: ignore[arg-type]
        assert slots.slots[0].process.pid == pid and slots.slots[0].process.poll() is None
        as_b = slots.trigger(org_b)
        assert len(as_b["restarted"]) == 1, as_b  # type: ignore[arg-type]
        assert slots.slots[0].process.pid != pid
        assert store.get(org_b, claimed.job.id).state is JobState.RUNNING  # the reaper's job
    finally:
        for slot in slots.slots:
            slot.process.kill()
            slot.process.wait(timeout=10)


def test_an_operators_trigger_worker_replaces_any_hung_slot(
    store: JobStore, job_settings: Settings
) -> None:
    org_b = store.create_org("slots-ops-b")
    media = Path(job_settings.allowed_roots.split(os.pathsep)[0]) / "clip.mov"
    media.write_bytes(b"x")
    store.enqueue(org_b, "path", str(media), file_name="clip.mov")
    slots, worker_id = _sleepy_slot(store, job_settings)
    old: Slot = slots.slots[0]
    try:
        store.claim(worker_id)
        with write_tx(store.engine) as conn:
            conn.execute(sa.update(jobs).values(lease_expires_at=0))
        result = slots.trigger(None)
        assert len(result["restarted"]) == 1 and result["leftAlone"] == [], result  # type: ignore[arg-type]
        assert old.process.poll() is not None
    finally:
        for slot in [old, *slots.slots]:
            if slot.process.poll() is None:
                slot.process.kill()
            slot.process.wait(timeout=10)


# --- messages the tenants read --------------------------------------------------------------


def test_path_refusals_name_only_the_submitted_path(server: Server, orgs: dict[str, str]) -> None:
    link = server.media_root / "linked.mov"
    if not link.is_symlink():
        link.symlink_to(server.data_dir / "kickflow.db")
    with server.client(orgs["a_member"]) as c:
        symlink = _error(c.post(JOBS, json={"source": {"type": "path", "path": str(link)}}), 400)
        outside = _error(c.post(JOBS, json={"source": {"type": "path", "path": "/etc/hosts"}}), 400)
    assert symlink.startswith(f"{link}: refused, the path goes through a symbolic link")
    assert outside == "/etc/hosts is outside the allowed roots"
    assert str(server.data_dir) not in symlink + outside


def test_history_messages_carry_no_worker_id(server: Server, orgs: dict[str, str]) -> None:
    ids = _stuck_jobs(server, {"a": orgs["a"]})
    with server.client(orgs["a"]) as a:
        job = a.get(f"{JOBS}/{ids['a']}").json()
    claimed = next(e for e in job["history"] if e["kind"] == "claimed")
    assert claimed["workerId"].startswith("fake-")  # the field stays, for the runbook
    assert claimed["message"].endswith("claimed by a worker")
    assert all(claimed["workerId"] not in (e["message"] or "") for e in job["history"])


def test_failure_messages_keep_the_submitted_path_and_drop_server_paths() -> None:
    job = Job.from_row(
        {c.name: None for c in jobs.c}
        | {"id": "j", "org_id": "o", "state": "running", "source_type": "path",
           "source_ref": "/mnt/nas/show one/clip.mov", "progress": 0.0, "attempt": 1,
           "max_attempts": 3, "lease_losses": 0, "priority": 0, "cancel_requested": False,
           "pause_requested": False, "file_name": "clip.mov", "profile": "default",
           "run_at": 0.0, "created_at": 0.0, "updated_at": 0.0}
    )  # fmt: skip
    lease = Lease("j", "t", 1, "host-1234-abcdef")
    text = (
        "file not found: /mnt/nas/show one/clip.mov; FFmpeg exited with code 1: "
        "/var/lib/kickflow/work/host-1234-abcdef/j-a1/clip.mov: Invalid data at 10 MB/s; "
        "worker host-1234-abcdef; [Errno 13] Permission denied: '/etc/kickflow/secret.toml'"
    )
    assert for_owner(text, job, lease) == (
        "file not found: /mnt/nas/show one/clip.mov; FFmpeg exited with code 1: "
        "clip.mov: Invalid data at 10 MB/s; worker its worker; "
        "[Errno 13] Permission denied: 'secret.toml'"
    )
    assert redact("audio/video 1/2, 10 MB/s and /") == "audio/video 1/2, 10 MB/s and /"


def test_event_messages_name_no_worker() -> None:
    ev = JobEvent(1, "j", "o", 0.0, "fenced", None, None, 2, "vm-42-abcdef", "lease_lost",
                  "rejected progress from vm-42-abcdef (attempt 2): lease lost")  # fmt: skip
    assert views.event(ev)["message"] == "rejected progress from a worker (attempt 2): lease lost"
    assert views.event(ev)["workerId"] == "vm-42-abcdef"
