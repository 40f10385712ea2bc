"""The /api/health/full snapshot: single-flight cache of the local checks, background probes at
most once per interval, and messages that name no server detail. Fake clocks, fake checks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from kickflow.api.health import Component, Prober, SnapshotCache, component, timed
from kickflow.errors import DatabaseError

WAIT_S = 10.0  # upper bound for a thread to get where the test waits for it


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class BlockingCheck:
    """A check that runs until released, counting calls and how many ran at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self) -> Component:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.started.set()
        assert self.release.wait(WAIT_S)
        with self._lock:
            self.running -= 1
        return component("ok", f"call {self.calls}")


def test_concurrent_requests_share_one_computation() -> None:
    check, clock = BlockingCheck(), FakeClock()
    cache = SnapshotCache({"database": check}, max_age=5, clock=clock)

    async def burst() -> list[dict[str, Component]]:
        waiters = [asyncio.ensure_future(cache.get()) for _ in range(30)]
        await asyncio.to_thread(check.started.wait, WAIT_S)
        check.release.set()
        return await asyncio.gather(*waiters)

    results = asyncio.run(burst())
    assert check.calls == 1 and check.most_at_once == 1 and cache.computations == 1
    assert all(r is results[0] for r in results)
    assert results[0]["database"]["message"] == "call 1"


def test_the_snapshot_is_served_until_it_is_too_old() -> None:
    check, clock = BlockingCheck(), FakeClock()
    check.release.set()
    cache = SnapshotCache({"database": check}, max_age=5, clock=clock)
    first = asyncio.run(cache.get())
    clock.now += 5
    assert asyncio.run(cache.get()) is first and check.calls == 1
    clock.now += 0.1
    assert asyncio.run(cache.get())["database"]["message"] == "call 2"


def test_a_waiter_that_goes_away_does_not_cancel_the_computation_for_the_others() -> None:
    check = BlockingCheck()
    cache = SnapshotCache({"database": check}, max_age=5)

    async def scenario() -> dict[str, Component]:
        leaving = asyncio.ensure_future(cache.get())
        staying = asyncio.ensure_future(cache.get())
        await asyncio.to_thread(check.started.wait, WAIT_S)
        leaving.cancel()
        check.release.set()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(scenario())["database"]["status"] == "ok"


def test_a_failing_check_reports_its_class_message_not_the_details() -> None:
    def broken() -> Component:
        raise DatabaseError('database error: connection to server at "db.internal" failed')

    def os_error() -> Component:
        raise FileNotFoundError(2, "No such file", "/srv/kickflow/uploads")

    db = timed(broken)
    assert db["status"] == "error" and "db.internal" not in str(db)
    assert db["message"] == "The job database is not reachable or refused the operation."
    disk = timed(os_error)
    assert "/srv" not in str(disk) and disk["message"].startswith("FileNotFoundError")


class CountingProbe:
    def __init__(self) -> None:
        self.calls = 0
        self.go = threading.Event()
        self.go.set()

    def __call__(self) -> Component:
        assert self.go.wait(WAIT_S)
        self.calls += 1
        return component("ok", "provider reachable", details={"models": 2})


def _round_finished(prober: Prober, rounds: int) -> None:
    for _ in range(int(WAIT_S / 0.01)):
        if prober.rounds >= rounds:
            return
        threading.Event().wait(0.01)
    pytest.fail(f"probe round {rounds} did not finish")


def test_probes_run_in_the_background_at_most_once_per_interval() -> None:
    probe, clock = CountingProbe(), FakeClock()
    prober = Prober({"groq_api": probe}, interval=60, clock=clock, wall_clock=lambda: 0.0)
    first = prober.latest()["groq_api"]
    assert first["status"] == "warning" and first["message"].startswith("not probed yet")
    assert first["details"]["checked_at"] is None
    _round_finished(prober, 1)
    clock.now += 12.5
    seen: dict[str, Any] = prober.latest()["groq_api"]
    assert seen["status"] == "ok" and seen["details"]["models"] == 2
    assert seen["details"]["checked_at"] == "1970-01-01T00:00:00.000+00:00"
    assert seen["details"]["age_seconds"] == 12.5
    for _ in range(100):
        prober.latest()
    assert probe.calls == 1  # 100 requests inside the interval: no new call
    clock.now += 60
    prober.latest()
    _round_finished(prober, 2)
    assert probe.calls == 2


def test_a_round_still_running_is_not_started_again() -> None:
    probe, clock = CountingProbe(), FakeClock()
    probe.go.clear()
    prober = Prober({"groq_api": probe}, interval=1, clock=clock)
    prober.latest()
    clock.now += 10
    prober.latest()  # due by the clock, but the first round hangs
    probe.go.set()
    _round_finished(prober, 1)
    assert probe.calls == 1 and prober.rounds == 1


def test_no_probe_no_thread() -> None:
    prober = Prober({}, interval=1)
    assert prober.latest() == {} and prober.rounds == 0
