"""Reading a file that another process (the analysis run) is still writing.

The readers that follow the run's raw outputs (speech PCM, PSE cells) do their work while
FFmpeg decodes, instead of after it: each reads the file as if it were whole, waiting for the
bytes it asks for until the run says it has finished writing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

POLL_S = 0.05  # how long a reader of a growing file waits before it looks again
FINISHED = threading.Event()  # for a file written long ago
FINISHED.set()


class Readable(Protocol):
    """What the raw-output readers need of a file: whole reads."""

    def read(self, size: int, /) -> bytes: ...


def open_when_created(
    path: Path, written: threading.Event, stop: threading.Event
) -> BinaryIO | None:
    """``path`` open for reading once the writer has created it; None if it never does."""
    while True:
        finished = written.is_set()
        try:
            return path.open("rb")
        except FileNotFoundError:
            if finished or stop.is_set():
                return None
            written.wait(POLL_S)


@contextmanager
def following(
    path: Path,
    written: threading.Event = FINISHED,
    stop: threading.Event | None = None,
    unit: int = 1,
) -> Iterator[Growing | None]:
    """``path`` read as it grows (:class:`Growing`) once the writer has created it, closed
    afterwards; None if it never is."""
    stop = stop or threading.Event()
    source = open_when_created(path, written, stop)
    if source is None:
        yield None
        return
    with source:
        yield Growing(source, written, stop, unit)


class Growing:
    """An open file that may still be growing, read in whole units (a PCM window, a frame).

    A read returns what has been written, up to the size asked for and cut to whole units,
    waiting only while not one whole unit is there; at the end (``written`` is set and nothing
    more came) it returns what is left, then nothing. ``stop`` ends every read at once (the run
    failed: nobody wants the rest).
    """

    def __init__(
        self,
        source: BinaryIO,
        written: threading.Event = FINISHED,
        stop: threading.Event | None = None,
        unit: int = 1,
    ) -> None:
        self._source = source
        self._written = written
        self._stop = stop or threading.Event()
        self._unit = max(1, unit)
        self._pending = b""

    def read(self, size: int) -> bytes:
        size = max(size, self._unit)
        while not self._stop.is_set():
            finished = self._written.is_set()  # before the read: nothing written is missed
            chunk = self._source.read(size - len(self._pending))
            self._pending += chunk
            whole = len(self._pending) - len(self._pending) % self._unit
            if whole or (finished and not chunk):
                cut = whole or len(self._pending)
                out, self._pending = self._pending[:cut], self._pending[cut:]
                return out
            if not chunk:
                self._written.wait(POLL_S)
        return b""
