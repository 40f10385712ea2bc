"""An organisation's daily transcription cap in ``run_attempt`` (fake store and engine, no
FFmpeg run, no provider called): each job's transcriber gets the profile's budget cut to what
the organisation has left today, then what it sent is added to the organisation's usage, also
when the attempt fails after sending; other organisations and a cap of 0 are not limited. An
HTTP worker (the worker protocol, in-process) spends the service's cap, under the job's lease."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kickflow.config import Settings
from kickflow.errors import LeaseLost, NotMedia
from kickflow.worker import usage
from kickflow.worker.pipeline import AttemptContext, run_attempt
from kickflow.worker.remote import HttpWorkerStore
from tests.fakes.api import ApiRig, api_rig, rig_settings
from tests.fakes.clock import FakeClock
from tests.fakes.engine import FakeEngine
from tests.fakes.store import FakeJobStore
from tests.integration.test_thumbnails import InProcess

DAY = "2026-12-01"
PROFILE = """extends = "ebu-r128"
[speech.transcription]
enabled = true
max_minutes_per_job = 4
"""
PROFILE_BUDGET_S = 240.0


@pytest.fixture(autouse=True)
def one_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attempt of a test on the same UTC day (a run across midnight must not split it)."""
    monkeypatch.setattr(usage, "utc_day", lambda epoch=None: DAY)


def make_store(tmp_path: Path, **overrides: Any) -> FakeJobStore:
    settings = rig_settings(
        tmp_path,
        transcription_api_key="test-key",
        transcription_base_url="http://127.0.0.1:9",  # never called: the engine is fake
        **overrides,
    )
    (tmp_path / "media").mkdir(exist_ok=True)
    return FakeJobStore(settings, clock=FakeClock())


def run_job(store: FakeJobStore, org: str, engine: FakeEngine, profile: str = PROFILE) -> str:
    """Submit one job of ``org`` with the (custom) profile text and run its attempt."""
    media = Path(store.settings.allowed_roots) / "EP01.mov"
    media.write_bytes(b"not really a movie")
    store.enqueue(
        org, "path", str(media), file_name="EP01.mov", profile="t", profile_source=profile
    )
    [claimed] = store.claim("w1")
    return run_attempt(AttemptContext(store, store.settings, engine, threading.Event()), claimed)


def budgets(engine: FakeEngine) -> list[float | None]:
    return [None if s.transcriber is None else s.transcriber.budget_s for s in engine.seen]


def test_the_budget_shrinks_with_the_days_usage_and_is_zero_once_the_cap_is_spent(
    tmp_path: Path,
) -> None:
    store = make_store(tmp_path, transcription_org_daily_minutes=5.0)  # 300 s a day
    org, other = store.ensure_org("studio"), store.ensure_org("elsewhere")
    engine = FakeEngine(sends_s=150.0)
    for _ in range(3):
        assert run_job(store, org, engine) == "completed"
    assert budgets(engine) == [PROFILE_BUDGET_S, 150.0, 0.0]
    assert store.transcription_used_s(org, DAY) == 300.0
    assert store.transcription_used_s(org, DAY) == 300.0, "a budget of 0 sent nothing"
    assert run_job(store, other, engine) == "completed"
    assert budgets(engine)[-1] == PROFILE_BUDGET_S, "another organisation has its own cap"


def test_what_was_sent_counts_when_the_attempt_then_fails(tmp_path: Path) -> None:
    store = make_store(tmp_path, transcription_org_daily_minutes=5.0)
    org = store.ensure_org("studio")
    engine = FakeEngine(sends_s=100.0, raises=NotMedia("not media"))
    assert run_job(store, org, engine) == "failed"
    assert store.transcription_used_s(org, DAY) == 100.0
    assert run_job(store, org, FakeEngine()) == "completed"
    assert budgets(engine) == [PROFILE_BUDGET_S]


def test_without_a_cap_the_profile_budget_holds_and_usage_is_still_counted(
    tmp_path: Path,
) -> None:
    store = make_store(tmp_path)  # transcription_org_daily_minutes = 0: no cap
    org = store.ensure_org("studio")
    store.add_transcription_usage(org, DAY, 10_000.0)
    engine = FakeEngine(sends_s=60.0)
    assert run_job(store, org, engine) == "completed"
    assert budgets(engine) == [PROFILE_BUDGET_S]
    assert store.transcription_used_s(org, DAY) == 10_060.0


def test_a_profile_without_transcription_reads_and_adds_no_usage(tmp_path: Path) -> None:
    store = make_store(tmp_path, transcription_org_daily_minutes=5.0)
    org = store.ensure_org("studio")
    off = PROFILE.replace("enabled = true", "enabled = false")
    assert run_job(store, org, FakeEngine(sends_s=60.0), profile=off) == "completed"
    assert store.db.calls_of("transcription_used_s") == []
    assert store.transcription_used_s(org, DAY) == 0.0


# --- an HTTP worker: the service's cap, under the job's lease --------------------------------


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    (tmp_path / "service").mkdir()
    with api_rig(
        tmp_path / "service",
        transcription_api_key="test-key",
        transcription_base_url="http://127.0.0.1:9",  # never called: the engine is fake
        transcription_org_daily_minutes=5.0,  # the service's cap: 300 s a day
    ) as r:
        yield r


@pytest.fixture
def remote(rig: ApiRig, tmp_path: Path) -> Iterator[HttpWorkerStore]:
    settings = Settings(  # the worker's own cap is not the one that counts
        data_dir=tmp_path / "worker-data",
        allowed_roots=str(rig.media),
        transcription_api_key="test-key",
        transcription_base_url="http://127.0.0.1:9",
        transcription_org_daily_minutes=0.0,
    )
    worker = HttpWorkerStore(
        "http://testserver", rig.tokens["worker"], settings, transport=InProcess(rig)
    )
    try:
        yield worker
    finally:
        worker.close()


def run_remote(rig: ApiRig, worker: HttpWorkerStore, engine: FakeEngine) -> str:
    media = rig.media / "EP01.mov"
    media.write_bytes(b"not really a movie")
    rig.store.enqueue(
        rig.org, "path", str(media), file_name="EP01.mov", profile="t", profile_source=PROFILE
    )
    [claimed] = worker.claim("http-w1")
    ctx = AttemptContext(worker, worker.settings, engine, threading.Event(), worker)
    return run_attempt(ctx, claimed)


def test_an_http_worker_spends_the_services_cap_for_the_jobs_organisation(
    rig: ApiRig, remote: HttpWorkerStore
) -> None:
    engine = FakeEngine(sends_s=200.0)
    for _ in range(3):
        assert run_remote(rig, remote, engine) == "completed"
    assert budgets(engine) == [PROFILE_BUDGET_S, 100.0, 0.0]
    assert rig.store.transcription_used_s(rig.org, DAY) == 300.0
    other = rig.store.ensure_org("elsewhere")
    assert rig.store.transcription_used_s(other, DAY) == 0.0


def test_usage_through_the_service_needs_the_live_lease(
    rig: ApiRig, remote: HttpWorkerStore
) -> None:
    media = rig.media / "EP01.mov"
    media.write_bytes(b"not really a movie")
    rig.store.enqueue(rig.org, "path", str(media), file_name="EP01.mov")
    [claimed] = remote.claim("http-w1")
    assert remote.transcription_usage(claimed.lease, 30.0).used_s == 30.0
    stale = dataclasses.replace(claimed.lease, token="not-the-lease")
    with pytest.raises(LeaseLost):
        remote.transcription_usage(stale, 1000.0)
    assert rig.store.transcription_used_s(rig.org, DAY) == 30.0
