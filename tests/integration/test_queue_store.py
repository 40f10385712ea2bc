"""Queue operations on real SQLite and PostgreSQL: enqueue, claim order, control, reaper."""

from __future__ import annotations

import time

import pytest

from kickflow.errors import DatabaseNotMigrated, IllegalTransition, JobNotFound, LeaseLost
from kickflow.jobs import Claimed, Job, JobState, JobStore, SqlJobStore


def add(store: JobStore, org: str, name: str = "a.mov", **kw: object) -> Job:
    return store.enqueue(org, "path", f"/media/{name}", file_name=name, **kw)  # type: ignore[arg-type]


def claim_one(store: JobStore, worker: str = "w1") -> Claimed:
    [claimed] = store.claim(worker)
    return claimed


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_unmigrated_database_is_refused(tmp_path: object) -> None:
    with pytest.raises(DatabaseNotMigrated, match="kickflow db upgrade"):
        SqlJobStore(f"sqlite:///{tmp_path}/empty.db")


def test_enqueue_with_idempotency_key_returns_the_same_job(store: JobStore) -> None:
    org = store.ensure_org()
    first = add(store, org, idempotency_key="k")
    again = add(store, org, idempotency_key="k")
    other_org = add(store, store.ensure_org("other"), idempotency_key="k")
    assert again.id == first.id
    assert other_org.id != first.id
    assert first.state is JobState.QUEUED and first.attempt == 0


def test_claim_order_is_priority_then_run_at_then_age(store: JobStore) -> None:
    org = store.ensure_org()
    low = add(store, org, "low")
    high = add(store, org, "high", priority=5)
    later = add(store, org, "later", priority=5, delay_seconds=60)
    second_low = add(store, org, "low2")
    order = [claim_one(store).job.id for _ in range(3)]
    assert order == [high.id, low.id, second_low.id]
    assert store.claim("w1") == []  # "later" is not due yet
    assert store.get(org, later.id).state is JobState.QUEUED


def test_claim_sets_a_fresh_lease_from_database_time(store: JobStore) -> None:
    org = store.ensure_org()
    add(store, org)
    before = store.now()
    claimed = claim_one(store)
    job = claimed.job
    assert job.state is JobState.RUNNING and job.attempt == 1
    assert len(claimed.lease.token) == 32
    assert job.lease_expires_at is not None
    assert job.lease_expires_at >= before + store.settings.lease_seconds - 0.5


def test_global_pause_flag_stops_claims(store: JobStore) -> None:
    org = store.ensure_org()
    add(store, org)
    store.pause_queue()
    assert store.queue_paused()
    assert store.claim("w1") == []
    store.resume_queue()
    assert len(store.claim("w1")) == 1


def test_per_organisation_cap(store: JobStore) -> None:
    capped = store.create_org("capped", max_running=1)
    free = store.ensure_org()
    add(store, capped, "c1")
    add(store, capped, "c2")
    add(store, free, "f1")
    got = [claim_one(store).job.org_id for _ in range(2)]
    assert sorted(got) == sorted([capped, free])
    assert store.claim("w1") == []


def test_heartbeat_reports_cancel_and_moves_progress_time_only_on_progress(
    store: JobStore,
) -> None:
    org = store.ensure_org()
    job = add(store, org)
    lease = claim_one(store).lease
    assert store.heartbeat(lease, 10.0, "downloading").lease_held
    first = store.get(org, job.id).progress_at
    assert store.heartbeat(lease, 10.0, "downloading").lease_held
    assert store.get(org, job.id).progress_at == first
    store.cancel(org, job.id)
    reply = store.heartbeat(lease, 11.0, "downloading")
    assert reply.lease_held and reply.cancel_requested
    assert store.get(org, job.id).progress_at != first
    done = store.acknowledge_cancel(lease)
    assert done.state is JobState.CANCELLED and done.error_code == "cancelled"


def test_cancel_pause_resume_and_illegal_changes(store: JobStore) -> None:
    org = store.ensure_org()
    job = add(store, org)
    assert store.pause(org, job.id).state is JobState.PAUSED
    assert store.claim("w1") == []
    with pytest.raises(IllegalTransition):
        store.retry(org, job.id)
    assert store.resume(org, job.id).state is JobState.QUEUED
    assert store.cancel(org, job.id).state is JobState.CANCELLED
    with pytest.raises(IllegalTransition, match="cancelled"):
        store.cancel(org, job.id)
    with pytest.raises(IllegalTransition):
        store.resume(org, job.id)
    assert store.retry(org, job.id).state is JobState.QUEUED


def test_running_job_asked_to_pause_becomes_paused_without_losing_an_attempt(
    store: JobStore,
) -> None:
    org = store.ensure_org()
    job = add(store, org)
    lease = claim_one(store).lease
    assert store.pause(org, job.id).pause_requested
    assert store.heartbeat(lease, 50.0, "analyzing").pause_requested
    paused = store.acknowledge_pause(lease)
    assert paused.state is JobState.PAUSED and paused.attempt == 0
    store.resume(org, job.id)
    assert claim_one(store).job.attempt == 1


def test_other_organisation_sees_nothing(store: JobStore) -> None:
    org, other = store.ensure_org(), store.ensure_org("other")
    job = add(store, org)
    with pytest.raises(JobNotFound):
        store.get(other, job.id)
    with pytest.raises(JobNotFound):
        store.cancel(other, job.id)
    assert store.list_jobs(other).jobs == []
    assert store.events(job.id, other) == []
    assert store.counts(other)["queued"] == 0


def test_fail_transient_retries_then_fails_and_permanent_fails_at_once(store: JobStore) -> None:
    org = store.ensure_org()
    job = add(store, org, max_attempts=2)
    again = store.fail(claim_one(store).lease, "ffmpeg_stalled", "stalled", permanent=False)
    assert again.state is JobState.QUEUED and again.error_code == "ffmpeg_stalled"
    final = store.fail(claim_one(store).lease, "ffmpeg_stalled", "stalled", permanent=False)
    assert final.state is JobState.FAILED and final.attempt == 2
    bad = add(store, org, "bad")
    failed = store.fail(claim_one(store).lease, "not_media", "not media", permanent=True)
    assert failed.id == bad.id and failed.state is JobState.FAILED and failed.attempt == 1
    kinds = [e.kind for e in store.events(job.id)]
    assert kinds == ["enqueued", "claimed", "retry_scheduled", "claimed", "failed"]
    redriven = store.retry_failed(org)
    assert {j.id for j in redriven.done} == {job.id, bad.id}
    assert store.get(org, job.id).attempt == 0


def test_release_gives_the_attempt_back(store: JobStore) -> None:
    org = store.ensure_org()
    job = add(store, org)
    released = store.release(claim_one(store).lease)
    assert released.state is JobState.QUEUED and released.attempt == 0
    assert claim_one(store).job.id == job.id


def test_fenced_worker_cannot_write_after_takeover(store: JobStore) -> None:
    org = store.ensure_org()
    job = add(store, org)
    old = claim_one(store, "old").lease
    wait_until(lambda: store.stuck_jobs(org) != [])  # lease 3 s without heartbeat
    assert store.reap().requeued == [job.id]
    new = claim_one(store, "new").lease
    assert not store.heartbeat(old, 60.0, "analyzing").lease_held
    for write in (
        lambda: store.complete(old, "passed", {}),
        lambda: store.fail(old, "x", "x", permanent=True),
        lambda: store.release(old),
        lambda: store.acknowledge_cancel(old),
    ):
        with pytest.raises(LeaseLost):
            write()
    assert store.heartbeat(new, 5.0, "initializing").lease_held
    done = store.complete(new, "passed", {"ok": True})
    assert done.state is JobState.COMPLETED and done.attempt == 2
    fenced = [e for e in store.events(job.id) if e.kind == "fenced"]
    assert len(fenced) == 5 and all(e.worker_id == "old" for e in fenced)


def test_reaper_fails_with_reason_when_attempts_are_exhausted(store: JobStore) -> None:
    org = store.ensure_org()
    job = add(store, org, max_attempts=1)
    claim_one(store)
    wait_until(lambda: store.reap().failed == [job.id])
    failed = store.get(org, job.id)
    assert failed.state is JobState.FAILED and failed.error_code == "lease_expired"
    assert failed.error_message and "lease expired" in failed.error_message
    assert store.reaper_status()["last_run"] is not None


def test_no_progress_is_stuck_but_moving_progress_never_is(
    job_settings: object, db_url: str
) -> None:
    settings = job_settings.model_copy(update={"stuck_after_seconds": 1.0, "lease_seconds": 30})  # type: ignore[attr-defined]
    store = SqlJobStore(db_url, settings)
    org = store.ensure_org()
    still, moving = add(store, org, "still"), add(store, org, "moving")
    leases = {c.job.id: c.lease for c in store.claim("w1", limit=2)}
    deadline = time.monotonic() + 3.0
    progress = 40.0
    while time.monotonic() < deadline:  # the moving job advances, the still one only beats
        progress += 0.01
        store.heartbeat(leases[moving.id], progress, "analyzing")
        store.heartbeat(leases[still.id], 40.0, "analyzing")
        store.reap()
        time.sleep(0.1)
    assert store.get(org, moving.id).state is JobState.RUNNING
    stuck = store.get(org, still.id)
    assert stuck.state is JobState.QUEUED and stuck.error_code == "no_progress"
    store.close()


def test_operator_retry_stuck_and_cancel_stuck(store: JobStore) -> None:
    org = store.ensure_org()
    a, b = add(store, org, "a"), add(store, org, "b")
    store.claim("w1", limit=1)
    wait_until(lambda: len(store.stuck_jobs(org)) == 1)
    assert [j.id for j in store.retry_stuck(org).done] == [a.id]
    assert store.get(org, a.id).state is JobState.QUEUED
    store.claim("w1", limit=2)
    wait_until(lambda: len(store.stuck_jobs(org)) == 2)
    result = store.cancel_stuck(org)
    assert sorted(j.id for j in result.done) == sorted([a.id, b.id])
    assert store.get(org, b.id).error_code == "cancelled_stuck"


def test_list_pagination_and_filters(store: JobStore) -> None:
    org = store.ensure_org()
    ids = [add(store, org, f"f{i}", project="p" if i % 2 else None).id for i in range(5)]
    page = store.list_jobs(org, limit=2)
    seen = [j.id for j in page.jobs]
    while page.next_cursor:
        page = store.list_jobs(org, limit=2, cursor=page.next_cursor)
        seen += [j.id for j in page.jobs]
    assert seen == list(reversed(ids))
    assert len(store.list_jobs(org, project="p").jobs) == 2
    assert len(store.list_jobs(org, state="queued").jobs) == 5


def test_worker_registry(store: JobStore) -> None:
    store.register_worker("w-1", "host", 123, 2)
    assert [w.id for w in store.live_workers()] == ["w-1"]
    store.worker_heartbeat("w-1", "stopped")
    assert store.live_workers() == []


def test_migrations_produce_exactly_the_declared_schema(store: JobStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from kickflow.jobs.schema import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_batch_enqueue_and_batch_complete_are_fenced_per_job(store: JobStore) -> None:
    org = store.ensure_org()
    items = [store.new_job(org, "path", f"/m/{i}", file_name=f"{i}.mov") for i in range(4)]
    keyed = store.new_job(org, "path", "/m/k", file_name="k.mov", idempotency_key="k")
    jobs = store.enqueue_many([*items, keyed, keyed])
    assert len({j.id for j in jobs}) == 5 and jobs[4].id == jobs[5].id
    store.set_org_cap(org, 5)  # the default cap of 4 running jobs would hold one back
    claimed = store.claim("w1", limit=5)
    assert len(claimed) == 5
    lost = claimed[0].lease
    store.release(lost)
    accepted = store.complete_many([(c.lease, "passed", {"n": 1}) for c in claimed])
    assert accepted == [False, True, True, True, True]
    assert store.get(org, claimed[1].job.id).report == {"n": 1}
    assert store.get(org, lost.job_id).state is JobState.QUEUED
    assert [e.kind for e in store.events(lost.job_id)][-1] == "fenced"
