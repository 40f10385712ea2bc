"""The retry schedule: ``base`` seconds after the first failed try, doubling each time up to
``cap`` (30 s, 1 min, 2 min ... 1 h by default), each wait jittered by up to ±20 % so many
deliveries that failed together do not all come back at the same second."""

from __future__ import annotations

import random
from collections.abc import Callable

JITTER = 0.2


def retry_delay(
    attempt: int,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed try number ``attempt`` (1 = the first)."""
    plain = min(cap, base * 2.0 ** max(0, attempt - 1))
    return min(cap, plain * (1.0 - JITTER + 2.0 * JITTER * rand()))
