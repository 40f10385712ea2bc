"""Reading a file that another process (the analysis run) is still writing.

The readers that follow the run's raw outputs (speech PCM, PSE cells) do their work while
FFmpeg decodes, instead of after it: each reads the file as if it were whole, waiting for the
bytes it asks for until the run says it has finished writing.
"""

from __future__ import annotations

import threading
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


class Growing:
    """An open file that may still be growing, read like a finished one.

    A read returns the bytes asked for, waiting for them while the writer goes on; fewer only
    at the end (``written`` is set and nothing more came). ``stop`` ends every read at once
    (the run failed: nobody wants the rest).
    """

    def __init__(
        self,
        source: BinaryIO,
        written: threading.Event = FINISHED,
        stop: threading.Event | None = None,
    ) -> None:
        self._source = source
        self._written = written
        self._stop = stop or threading.Event()

    def read(self, size: int) -> bytes:
        parts: list[bytes] = []
        missing = size
        while missing > 0 and not self._stop.is_set():
            finished = self._written.is_set()  # before the read: nothing written is missed
            chunk = self._source.read(missing)
            if chunk:
                parts.append(chunk)
                missing -= len(chunk)
            elif finished:
                break
            else:
                self._written.wait(POLL_S)
        return b"".join(parts)
