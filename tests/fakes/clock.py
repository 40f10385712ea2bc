"""A clock for the fake store: epoch seconds that move only when a test says so."""

from __future__ import annotations

import threading

DEFAULT_START = 1_700_000_000.0  # a plausible epoch: times in messages look real
DEFAULT_TICK = 1e-6


class FakeClock:
    """The fake store's "database clock". ``advance(s)`` jumps ahead (lease expiry, backoff,
    worker silence without waiting); besides, every reading is ``tick`` seconds after the one
    before, because a real clock never stands still: rows written one after another get
    distinct times, as they do in a database (list order, ``changed_since``). ``tick=0``
    stops it completely."""

    def __init__(self, start: float = DEFAULT_START, tick: float = DEFAULT_TICK) -> None:
        self._now = start
        self._tick = tick
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """One reading (what ``SELECT now()`` is to a database)."""
        with self._lock:
            now = self._now
            self._now += self._tick
            return now

    @property
    def current(self) -> float:
        """The time now, without taking a reading."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
