"""The JobStore methods the API, health checks and metrics use instead of SQL of their own,
on real SQLite and PostgreSQL: reads by id, delete, stuck-job control, counts and history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow import metrics
from kickflow.config import Settings
from kickflow.errors import JobNotFound, LeaseLost, RequestInvalid
from kickflow.jobs import Claimed, Job, JobState, SqlJobStore
from kickflow.jobs import lease as lease_ops
from kickflow.jobs.db import write_tx
from kickflow.jobs.models import HeartbeatReply
from kickflow.jobs.queue import NewJob
from kickflow.jobs.schema import job_events, jobs
from tests.fixtures_server import wait_for


def add(store: SqlJobStore, org: str, name: str = "a.mov", **kw: object) -> Job:
    return store.enqueue(org, "path", f"/media/{name}", file_name=name, **kw)  # type: ignore[arg-type]


def claim(store: SqlJobStore, job_id: str) -> Claimed:
    """Claim until ``job_id`` is among the claimed (others stay running, unfenced)."""
    for _ in range(50):
        for claimed in store.claim("w-test"):
            if claimed.job.id == job_id:
                return claimed
    raise AssertionError(f"job {job_id} was never claimed")


def expire_lease(store: SqlJobStore, job_id: str) -> None:
    """Make a running job stuck now (as if its worker had frozen a lease ago)."""
    with write_tx(store.engine) as conn:
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(lease_expires_at=0))


def test_jobs_by_ids_keeps_the_order_asked_and_the_organisation(store: SqlJobStore) -> None:
    org, other = store.ensure_org(), store.ensure_org("other")
    a, b = add(store, org, "a"), add(store, org, "b")
    theirs = add(store, other, "c")
    found = store.jobs_by_ids(org, [b.id, "nope", theirs.id, a.id, b.id])
    assert [j.id for j in found] == [b.id, a.id]  # another tenant's job is not there
    assert [j.id for j in store.jobs_by_ids(None, [theirs.id, a.id])] == [theirs.id, a.id]
    assert store.jobs_by_ids(org, []) == []


def test_active_job_ids_are_queued_running_and_paused(store: SqlJobStore) -> None:
    org = store.ensure_org()
    queued, running, paused, cancelled = (add(store, org, n) for n in "qrpc")
    store.cancel(org, cancelled.id)
    store.pause(org, paused.id)
    claim(store, running.id)
    add(store, store.ensure_org("other"), "theirs")
    assert set(store.active_job_ids(org)) == {queued.id, running.id, paused.id}
    assert store.active_job_ids(org) == [queued.id, running.id, paused.id]  # oldest first
    assert len(store.active_job_ids(None)) == 4


def test_jobs_of_one_batch_and_back_to_back_jobs_keep_their_order(store: SqlJobStore) -> None:
    # One statement has one clock, and SQLite's moves in milliseconds: without distinct
    # creation times, "oldest first" and the list's pages would follow the random ids.
    org = store.ensure_org()
    batch = store.enqueue_many(
        [NewJob(org, "path", f"/media/{n}.mov", f"{n}.mov", "default", 3) for n in range(6)]
    )
    singles = [add(store, org, f"s{n}") for n in range(6)]
    expected = [j.id for j in batch + singles]
    assert store.active_job_ids(org) == expected
    assert len({j.created_at for j in batch + singles}) == len(expected)
    newest_first, page = [], store.list_jobs(org, limit=5)
    newest_first += [j.id for j in page.jobs]
    while page.next_cursor:
        page = store.list_jobs(org, limit=5, cursor=page.next_cursor)
        newest_first += [j.id for j in page.jobs]
    assert newest_first == expected[::-1]


def test_delete_job_removes_it_and_its_history(store: SqlJobStore) -> None:
    org = store.ensure_org()
    job = add(store, org)
    with pytest.raises(JobNotFound):
        store.delete_job(store.ensure_org("other"), job.id)  # another tenant: 404, kept
    gone = store.delete_job(org, job.id)
    assert gone.id == job.id and gone.state is JobState.CANCELLED  # cancelled on the way
    with pytest.raises(JobNotFound):
        store.get(org, job.id)
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).where(job_events.c.job_id == job.id))
        assert left.scalar() == 0
    with pytest.raises(JobNotFound):
        store.delete_job(org, job.id)


def test_deleting_a_running_job_fences_its_worker(store: SqlJobStore) -> None:
    org = store.ensure_org()
    job = add(store, org)
    claimed = claim(store, job.id)
    assert store.delete_job(org, job.id).state is JobState.RUNNING
    assert store.heartbeat(claimed.lease, 10.0, "analyzing").lease_held is False
    with pytest.raises(LeaseLost):
        store.complete(claimed.lease, "passed", {})


def test_retry_stuck_job_requeues_only_a_stuck_job(store: SqlJobStore) -> None:
    org = store.ensure_org()
    job = add(store, org)
    claimed = claim(store, job.id)
    with pytest.raises(RequestInvalid, match="making progress: not stuck"):
        store.retry_stuck_job(org, job.id)
    expire_lease(store, job.id)
    with pytest.raises(JobNotFound):
        store.retry_stuck_job(store.ensure_org("other"), job.id)
    again = store.retry_stuck_job(org, job.id)
    assert again.state is JobState.QUEUED and again.lease_token is None
    assert store.events(job.id)[-1].message == "stuck: re-queued by an operator"
    with pytest.raises(LeaseLost):  # the frozen worker wakes up: fenced off
        store.complete(claimed.lease, "passed", {})
    with pytest.raises(RequestInvalid, match="queued, not stuck"):
        store.retry_stuck_job(org, job.id)


def test_bulk_stuck_actions_share_the_per_job_path(store: SqlJobStore) -> None:
    org = store.ensure_org()
    a, b, healthy = add(store, org, "a"), add(store, org, "b"), add(store, org, "h")
    for job in (a, b, healthy):
        claim(store, job.id)
    expire_lease(store, a.id)
    expire_lease(store, b.id)
    assert store.stuck_count() == 2
    retried = store.retry_stuck(org)
    assert {j.id for j in retried.done} == {a.id, b.id} and retried.refused == {}
    claim(store, a.id)
    expire_lease(store, a.id)
    cancelled = store.cancel_stuck(org)
    assert [j.id for j in cancelled.done] == [a.id]
    assert store.get(org, a.id).error_code == "cancelled_stuck"
    assert store.get(org, healthy.id).state is JobState.RUNNING
    with pytest.raises(RequestInvalid):
        store.cancel_stuck_job(org, healthy.id)


def test_state_counts_and_stuck_count_cover_every_organisation(store: SqlJobStore) -> None:
    org, other = store.ensure_org(), store.ensure_org("other")
    running = add(store, other, "r")
    claim(store, running.id)
    add(store, org, "q")
    done = add(store, org, "c")
    store.cancel(org, done.id)
    counts = store.state_counts(["queued", "running", "completed", "cancelled"])
    assert counts == {"queued": 1, "running": 1, "completed": 0, "cancelled": 1}
    assert store.stuck_count() == 0
    expire_lease(store, running.id)
    assert store.stuck_count() == 1
    with pytest.raises(ValueError, match="stuck"):
        store.state_counts(["stuck"])  # not a state: refused rather than answered with 0


def test_job_history_counts_finishes_fenced_writes_and_attempts(store: SqlJobStore) -> None:
    org = store.ensure_org()
    ok, killed = add(store, org, "ok"), add(store, org, "killed", max_attempts=1)
    first = claim(store, ok.id)
    store.complete(first.lease, "passed", {"verdict": "passed"})
    second = claim(store, killed.id)
    store.fail(second.lease, "ffmpeg_stalled", "no progress", permanent=False)
    with pytest.raises(LeaseLost):
        store.complete(second.lease, "passed", {})  # a late result: fenced
    history = store.job_history(metrics.DURATION_BUCKETS, metrics.ATTEMPT_BUCKETS)
    assert history.finished_by_state == {"completed": 1, "failed": 1}
    assert history.ffmpeg_kills_by_reason == {"ffmpeg_stalled": 1}
    assert history.fenced_writes == 1
    assert history.recoveries_by_reason == {}
    assert history.job_duration.count == 1 and history.attempts.count == 2
    assert history.attempts.cumulative[0] == 2  # both finished on attempt 1


def test_registered_workers_are_listed_per_host_live_or_not(store: SqlJobStore) -> None:
    store.register_worker("w-1", "host-a", 11, 1)
    store.register_worker("w-2", "host-a", 12, 1)
    store.register_worker("w-3", "host-b", 13, 1)
    store.worker_heartbeat("w-2", "stopped")
    assert store.registered_workers("host-a") == {"w-1": 11, "w-2": 12}
    assert store.registered_workers("nowhere") == {}


def test_ping_revision_and_describe(store: SqlJobStore) -> None:
    assert store.ping() == store.engine.dialect.name
    assert store.revision() == store.needed_revision()
    hidden = SqlJobStore(
        "postgresql+psycopg://kf:s3cret-pw@127.0.0.1:1/kickflow",
        store.settings,
        check_migrated=False,
    )
    try:
        assert "s3cret-pw" not in hidden.describe() and "127.0.0.1:1/kickflow" in hidden.describe()
    finally:
        hidden.close()


@pytest.mark.postgres
def test_a_worker_thawed_mid_heartbeat_after_its_lease_gets_the_stores_answer(
    pg_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker frozen inside its heartbeat's transaction past the lease: the server ends
    that session, the job is reaped and claimed again. Thawed, the heartbeat must not fail on
    the dead connection (the worker would stop unrecorded): it is repeated on a fresh one and
    answered "lease lost", recorded as a fenced write."""
    settings = Settings(
        data_dir=tmp_path, database_url=pg_database_url, lease_seconds=5.0,
        retry_base_seconds=0.0, retry_max_seconds=0.0,
    )  # fmt: skip
    store = SqlJobStore(pg_database_url, settings)
    watcher = sa.create_engine(pg_database_url)
    org = store.ensure_org()
    job = add(store, org)
    zombie = claim(store, job.id)
    successor: list[Claimed] = []
    frozen: list[int] = []
    real_heartbeat = lease_ops.heartbeat

    def ended(pid: int) -> bool:
        with watcher.connect() as conn:
            query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            return conn.execute(query, {"pid": pid}).scalar() == 0

    def frozen_once(conn: Connection, *args: Any) -> HeartbeatReply:
        reply = real_heartbeat(conn, *args)  # the job's row is locked until this commits
        if not frozen:
            frozen.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
            wait_for(lambda: ended(frozen[0]), 60, "the server to end the frozen session")
            expire_lease(store, job.id)
            assert job.id in store.reap().requeued
            successor.extend(c for c in store.claim("w-next") if c.job.id == job.id)
        return reply

    monkeypatch.setattr(lease_ops, "heartbeat", frozen_once)
    try:
        assert store.heartbeat(zombie.lease, 60.0, "analyzing").lease_held is False
        assert successor and store.heartbeat(successor[0].lease, 61.0, "analyzing").lease_held
        codes = [(e.kind, e.code, e.worker_id) for e in store.events(job.id)]
        assert ("fenced", "lease_lost", zombie.lease.worker_id) in codes
    finally:
        watcher.dispose()
        store.close()
