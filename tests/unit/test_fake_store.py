"""The fake store itself: what it promises beyond the contract suite (which it passes with the
SQL stores, see tests/integration/test_store_contract.py) — its clock, transactions, thread
safety, JSON reports and test hooks."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from kickflow.config import Settings
from kickflow.errors import DatabaseError, KickflowError, LeaseLost, QueueLimitReached
from kickflow.jobs import JobState, WorkerPort
from tests.fakes import FakeClock, FakeDatabase, FakeJobStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> FakeJobStore:
    settings = Settings(
        lease_seconds=30.0, heartbeat_seconds=10.0, retry_base_seconds=10.0,
        retry_max_seconds=60.0, org_max_queued=1000, org_max_running=0,
    )  # fmt: skip
    return FakeJobStore(settings, clock=clock)


def add(store: FakeJobStore, org: str, name: str = "a.mov") -> str:
    return store.enqueue(org, "path", f"/media/{name}", file_name=name).id


def test_it_is_a_worker_port() -> None:
    port: WorkerPort = FakeJobStore(Settings())
    assert port.runs_reaper


# --- the clock -------------------------------------------------------------------------------


def test_the_clock_moves_only_by_a_tick_per_reading_until_advanced() -> None:
    clock = FakeClock(start=100.0, tick=0.5)
    assert (clock(), clock(), clock.current) == (100.0, 100.5, 101.0)
    clock.advance(9.0)
    assert clock() == 110.0
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1.0)
    still = FakeClock(start=5.0, tick=0.0)
    assert still() == still() == 5.0


def test_one_call_reads_the_clock_once(store: FakeJobStore, clock: FakeClock) -> None:
    org = store.ensure_org()
    [job] = store.enqueue_many([store.new_job(org, "path", "/m/a", file_name="a")])
    assert job.created_at == job.updated_at == job.run_at
    [claimed] = store.claim("w1")
    assert claimed.job.lease_expires_at == claimed.job.started_at + 30.0  # type: ignore[operator]


def test_leases_expire_and_backoffs_end_when_the_clock_says_so(
    store: FakeJobStore, clock: FakeClock
) -> None:
    org = store.ensure_org()
    job_id = add(store, org)
    [claimed] = store.claim("w1")
    clock.advance(29.0)
    assert store.stuck_jobs(org) == [] and store.heartbeat(claimed.lease, 1.0, "x").lease_held
    clock.advance(31.0)
    assert [j.id for j in store.stuck_jobs(org)] == [job_id]
    assert store.counts(org)["stuck"] == 1
    assert store.reap().requeued == [job_id]
    assert store.claim("w2") == []
    age = store.oldest_queued_age(org)
    assert age == 0.0, "the backoff is in the future: not waiting yet"
    clock.advance(12.5)
    assert len(store.claim("w2")) == 1


def test_workers_go_silent_on_the_fake_clock(store: FakeJobStore, clock: FakeClock) -> None:
    store.register_worker("w-1", "host", 1, 1)
    clock.advance(29.0)  # within 3 heartbeats of 10 s
    assert [w.id for w in store.live_workers()] == ["w-1"]
    clock.advance(2.0)
    assert store.live_workers() == []
    assert store.prune_workers(3600.0) == 0
    clock.advance(3600.0)
    assert store.prune_workers(3600.0) == 1


def test_a_delayed_job_waits_for_the_clock(store: FakeJobStore, clock: FakeClock) -> None:
    org = store.ensure_org()
    store.enqueue(org, "path", "/m/a", file_name="a", delay_seconds=60.0)
    assert store.claim("w1") == []
    clock.advance(60.0)
    assert len(store.claim("w1")) == 1


# --- transactions ----------------------------------------------------------------------------


def test_a_call_that_fails_leaves_nothing_behind(store: FakeJobStore) -> None:
    org = store.ensure_org()
    good = store.new_job(org, "path", "/m/a", file_name="a")
    orphan = store.new_job("no-such-org", "path", "/m/b", file_name="b")
    with pytest.raises(DatabaseError, match="FOREIGN KEY"):
        store.enqueue_many([good, orphan])
    assert store.list_jobs(None).jobs == [] and store.db.tables.events == []
    small = store.with_settings(org_max_queued=1)
    with pytest.raises(QueueLimitReached):
        small.enqueue_many([good, good])
    assert store.counts(org)["queued"] == 0


def test_injected_faults_fire_before_anything_changes(store: FakeJobStore) -> None:
    org = store.ensure_org()
    store.db.fail_next("enqueue", times=2)
    for _ in range(2):
        with pytest.raises(DatabaseError, match="injected"):
            add(store, org)
    assert store.counts(org)["queued"] == 0
    add(store, org)
    assert store.counts(org)["queued"] == 1
    assert [c.name for c in store.db.calls_of("enqueue")] == ["enqueue"] * 3


def test_a_lost_lease_is_recorded_even_though_the_write_is_refused(store: FakeJobStore) -> None:
    org = store.ensure_org()
    job_id = add(store, org)
    [claimed] = store.claim("w1")
    store.release(claimed.lease)
    with pytest.raises(LeaseLost, match="result rejected"):
        store.complete(claimed.lease, "passed", {})
    assert store.events(job_id)[-1].kind == "fenced"


def test_every_call_is_recorded_in_order(store: FakeJobStore) -> None:
    org = store.ensure_org()
    add(store, org)
    store.claim("w1", limit=2)
    names = [c.name for c in store.db.calls]
    assert names == ["ensure_org", "enqueue", "claim"]
    assert store.db.calls[-1].args == ("w1", 2)


def test_stores_on_one_database_share_everything_but_settings(clock: FakeClock) -> None:
    db = FakeDatabase(clock)
    one = FakeJobStore(Settings(org_max_queued=5), db=db)
    two = FakeJobStore(Settings(org_max_queued=1), db=db)
    org = one.ensure_org()
    add(one, org)
    assert two.ensure_org() == org
    with pytest.raises(QueueLimitReached):
        add(two, org, "b")
    add(one, org, "b")
    assert two.counts(org)["queued"] == 2
    with pytest.raises(ValueError, match="own clock"):
        FakeJobStore(Settings(), clock=FakeClock(), db=db)


# --- reports ---------------------------------------------------------------------------------


def test_reports_come_back_as_a_json_column_gives_them(store: FakeJobStore) -> None:
    org = store.ensure_org()
    job_id = add(store, org)
    [claimed] = store.claim("w1")
    store.complete(claimed.lease, "passed", {"curve": (1, 2), "by_track": {1: "ok"}})
    assert store.get(org, job_id).report == {"curve": [1, 2], "by_track": {"1": "ok"}}


def test_a_report_that_is_not_json_is_refused_and_nothing_changes(store: FakeJobStore) -> None:
    org = store.ensure_org()
    job_id = add(store, org)
    [claimed] = store.claim("w1")
    for bad in ({"lufs": float("nan")}, {"when": object()}):
        with pytest.raises(DatabaseError, match="not JSON"):
            store.complete(claimed.lease, "passed", bad)
        with pytest.raises(DatabaseError):
            store.complete_many([(claimed.lease, "passed", bad)])
    assert store.get(org, job_id).state is JobState.RUNNING


def test_callers_get_copies(store: FakeJobStore) -> None:
    org = store.ensure_org()
    job_id = add(store, org)
    [claimed] = store.claim("w1")
    done = store.complete(claimed.lease, "passed", {"findings": []})
    assert done.report is not None
    done.report["findings"].append("tampered")
    store.get(org, job_id).report["findings"].append("tampered")  # type: ignore[index]
    assert store.get(org, job_id).report == {"findings": []}


# --- threads ---------------------------------------------------------------------------------


def test_concurrent_claimers_never_share_a_job(store: FakeJobStore) -> None:
    org = store.ensure_org()
    jobs = store.enqueue_many(
        [store.new_job(org, "path", f"/m/{i}", file_name=f"{i}") for i in range(300)]
    )
    got: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while claimed := store.claim(name, limit=3):
            with lock:
                got.extend(c.job.id for c in claimed)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(got) == Counter(j.id for j in jobs)
    assert store.counts(org)["running"] == 300


def test_concurrent_submissions_with_one_key_make_one_job(store: FakeJobStore) -> None:
    org = store.ensure_org()
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        job = store.enqueue(org, "path", "/m/a", file_name="a", idempotency_key="same")
        ids.append(job.id)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(ids) == 8


# --- the edit hook ---------------------------------------------------------------------------


def test_edit_changes_only_the_columns_given(store: FakeJobStore) -> None:
    org = store.ensure_org()
    job_id = add(store, org)
    before = store.get(org, job_id)
    after = store.edit(job_id, run_at=before.run_at + 60)
    assert after.run_at == before.run_at + 60 and after.updated_at == before.updated_at
    with pytest.raises(TypeError):
        store.edit(job_id, no_such_column=1)
    with pytest.raises(KickflowError):
        store.edit("no-such-job", run_at=0.0)
