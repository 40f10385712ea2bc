"""The shared change feed behind ``GET /api/qc/events`` (``kickflow.api.changes``), on the fake
store: one poll per organisation however many streams, the same events for every stream, a
poller that stops with its last subscriber, resume without gaps or repeats, and a stream that
falls behind dropped instead of growing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kickflow.api.changes import Change, ChangeFeed, Subscription
from kickflow.config import Settings
from tests.fakes import FakeClock, FakeJobStore

INTERVAL = 0.02
DEADLINE = 20.0


@pytest.fixture
def store(tmp_path: Path) -> FakeJobStore:
    return FakeJobStore(Settings(data_dir=tmp_path, database_url=""), clock=FakeClock())


def ids(changes: list[Change]) -> list[str]:
    return [json.loads(c.text.split("data: ", 1)[1])["id"] for c in changes]


async def until(what: str, check: Callable[[], bool]) -> None:
    """Wait (on the loop) until ``check()``; fail after a generous deadline."""
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(INTERVAL / 2)


async def collect(sub: Subscription, into: list[Change], until_n: int) -> None:
    while len(into) < until_n:
        into += await sub.next_changes(DEADLINE)
        assert not sub.dropped


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 2 * DEADLINE))


def poll_calls(store: FakeJobStore) -> int:
    return len(store.db.calls_of("changed_since"))


async def joined(feed: ChangeFeed, org: str, since: float | None = None) -> Subscription:
    """A subscription as the route makes one: subscribe at now, then read the backlog."""
    start = feed.store.now()
    sub = feed.subscribe(org, start)
    await feed.backlog(sub, start if since is None else since)
    return sub


def state_of(change: Change) -> str:
    return str(json.loads(change.text.split("data: ", 1)[1])["state"])


def test_every_stream_of_an_organisation_gets_the_same_changes(store: FakeJobStore) -> None:
    org = store.ensure_org("studio")

    async def main() -> None:
        feed = ChangeFeed(store, interval=INTERVAL)
        a, b = await joined(feed, org), await joined(feed, org)
        job = store.enqueue(org, "path", "/m/a.mov", file_name="a.mov")
        got_a: list[Change] = []
        got_b: list[Change] = []
        await asyncio.gather(collect(a, got_a, 1), collect(b, got_b, 1))
        store.cancel(org, job.id)
        await asyncio.gather(collect(a, got_a, 2), collect(b, got_b, 2))
        assert got_a == got_b, "rendered once, handed to both"
        assert ids(got_a) == [job.id, job.id]
        assert [state_of(c) for c in got_a] == ["queued", "cancelled"]
        assert list(feed.pollers) == [org], "one poller for the organisation"
        feed.unsubscribe(a)
        feed.unsubscribe(b)

    run(main)


def test_one_poll_per_interval_whatever_the_number_of_streams(store: FakeJobStore) -> None:
    org = store.ensure_org("studio")

    async def main() -> None:
        feed = ChangeFeed(store, interval=INTERVAL)
        subs = [await joined(feed, org) for _ in range(50)]
        started, before = time.monotonic(), poll_calls(store)
        await until("ten polls", lambda: poll_calls(store) - before >= 10)
        polls = poll_calls(store) - before
        intervals = (time.monotonic() - started) / INTERVAL
        assert polls <= intervals + 2, f"{polls} polls in {intervals:.1f} intervals, 50 streams"
        for sub in subs:
            feed.unsubscribe(sub)

    run(main)


def test_the_last_subscriber_leaving_stops_the_poller(store: FakeJobStore) -> None:
    org, other = store.ensure_org("studio"), store.ensure_org("elsewhere")

    async def main() -> None:
        feed = ChangeFeed(store, interval=INTERVAL)
        a, b, c = await joined(feed, org), await joined(feed, org), await joined(feed, other)
        task = feed.pollers[org].task
        assert task is not None
        feed.unsubscribe(a)
        assert org in feed.pollers, "b still listens"
        feed.unsubscribe(b)
        assert set(feed.pollers) == {other}
        await asyncio.wait([task], timeout=DEADLINE)
        assert task.cancelled()
        stopped_at = poll_calls(store)
        await until(
            "three more polls of the other organisation",
            lambda: poll_calls(store) >= stopped_at + 3,
        )
        polled = {call.args[0] for call in store.db.calls_of("changed_since")[stopped_at:]}
        assert polled == {other}, "nothing polls the organisation nobody listens to"
        feed.unsubscribe(c)
        assert feed.pollers == {}
        again = await joined(feed, org)
        assert feed.pollers[org].task is not task, "a new subscriber starts a new poller"
        feed.unsubscribe(again)

    run(main)


def test_a_resuming_stream_gets_its_backlog_then_live_changes_once(store: FakeJobStore) -> None:
    org = store.ensure_org("studio")

    async def main() -> None:
        feed = ChangeFeed(store, interval=INTERVAL)
        live = await joined(feed, org)
        resume_from = store.now()
        first = store.enqueue(org, "path", "/m/1.mov", file_name="1.mov")
        second = store.enqueue(org, "path", "/m/2.mov", file_name="2.mov")
        seen_live: list[Change] = []
        await collect(live, seen_live, 2)  # the poller has fetched both already
        resumed = feed.subscribe(org, store.now())
        third = store.enqueue(org, "path", "/m/3.mov", file_name="3.mov")  # before the backlog
        backlog = await feed.backlog(resumed, resume_from)
        assert ids(backlog) == [first.id, second.id, third.id]
        fourth = store.enqueue(org, "path", "/m/4.mov", file_name="4.mov")
        after: list[Change] = []
        await collect(resumed, after, 1)
        await collect(live, seen_live, 4)
        assert ids(after) == [fourth.id], "the poller's batch with the third is not sent twice"
        assert ids(seen_live) == [first.id, second.id, third.id, fourth.id]
        feed.unsubscribe(live)
        feed.unsubscribe(resumed)

    run(main)


def test_changes_of_one_statement_share_a_time_and_are_all_sent(tmp_path: Path) -> None:
    clock = FakeClock(tick=0)  # every write at one instant, as one UPDATE of many rows
    store = FakeJobStore(Settings(data_dir=tmp_path, database_url=""), clock=clock)
    org = store.ensure_org("studio")

    async def main() -> None:
        feed = ChangeFeed(store, interval=INTERVAL)
        sub = await joined(feed, org)
        clock.advance(1.0)
        jobs = [store.enqueue(org, "path", f"/m/{i}.mov", file_name=f"{i}.mov") for i in range(3)]
        got: list[Change] = []
        await collect(sub, got, 3)
        assert sorted(ids(got)) == sorted(j.id for j in jobs)
        late = await joined(feed, org, since=clock.current - 0.5)  # a resume inside the instant
        assert late.since == clock.current
        feed.unsubscribe(sub)
        feed.unsubscribe(late)

    run(main)


def test_a_stream_that_falls_behind_is_dropped_not_grown(store: FakeJobStore) -> None:
    org = store.ensure_org("studio")

    async def main() -> None:
        feed = ChangeFeed(store, interval=INTERVAL, max_pending=3)
        stalled, reader = await joined(feed, org), await joined(feed, org)
        got: list[Change] = []
        for i in range(2):
            store.enqueue(org, "path", f"/m/{i}.mov", file_name=f"{i}.mov")
        await collect(reader, got, 2)
        for i in range(2, 4):
            store.enqueue(org, "path", f"/m/{i}.mov", file_name=f"{i}.mov")
        await collect(reader, got, 4)
        assert stalled.dropped, "it held 2, then 2 more would pass max_pending=3"
        assert await stalled.next_changes(DEADLINE) == [], "a dropped stream ends at once"
        assert feed.pollers[org].subscribers == {reader}
        feed.unsubscribe(stalled)  # what the stream's end does: harmless after the drop
        feed.unsubscribe(reader)

    run(main)


def test_a_database_error_is_logged_and_polling_goes_on(
    store: FakeJobStore, caplog: pytest.LogCaptureFixture
) -> None:
    from kickflow.errors import DatabaseError

    org = store.ensure_org("studio")

    async def main() -> None:
        feed = ChangeFeed(store, interval=INTERVAL)
        sub = await joined(feed, org)
        store.db.fail_next("changed_since", DatabaseError("database is away"))
        job = store.enqueue(org, "path", "/m/a.mov", file_name="a.mov")
        got: list[Change] = []
        await collect(sub, got, 1)
        assert ids(got) == [job.id]
        feed.unsubscribe(sub)

    run(main)
    assert any("database is away" in r.getMessage() for r in caplog.records)
