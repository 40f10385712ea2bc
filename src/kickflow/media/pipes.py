"""Raw outputs of the analysis run read on a pipe while FFmpeg writes them.

A track's samples (media/levels.py) and the sampled picture (media/picture.py) leave the run's
filter graph as raw data on a pipe, not a file: an hour of 48 kHz stereo is 1.4 GB. A
:class:`PipeReader` thread reads one pipe and hands its subclass whole units (windows,
frames) a batch at a time. A reader that fails keeps draining its pipe, so FFmpeg never waits
on it, and raises its error when the caller asks for the result.
"""

from __future__ import annotations

import os
import threading

READ_BYTES = 1 << 20
PIPE_BYTES = 1 << 20  # asked of the kernel for each pipe (its default is 64 KiB)


def open_pipe() -> tuple[int, int]:
    """A pipe for one raw output: (read end, write end), the write end for FFmpeg."""
    read_end, write_end = os.pipe()
    try:
        import fcntl

        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or over the system's maximum
        pass
    return read_end, write_end


class PipeReader:
    """Reads a pipe on a thread; :meth:`_measure` gets ``batch`` whole units at a time, and at
    the end what is left in whole ``tail_unit`` pieces (a last, shorter window)."""

    def __init__(self, read_end: int, unit: int, batch: int, tail_unit: int, name: str) -> None:
        self._unit = max(1, unit)
        self._batch = max(1, batch)
        self._tail_unit = max(1, tail_unit)
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._read, args=(read_end,), name=name, daemon=True)
        self._thread.start()

    def _measure(self, data: bytes) -> None:
        raise NotImplementedError

    def _read(self, read_end: int) -> None:
        pending = bytearray()
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(READ_BYTES):
                if self._error is not None:
                    continue  # drain: FFmpeg must never wait on a reader that gave up
                pending += chunk
                whole = len(pending) // self._unit
                if whole >= self._batch:
                    self._measure_safely(pending, whole * self._unit)
            if self._error is None and len(pending) >= self._tail_unit:
                self._measure_safely(pending, len(pending) // self._tail_unit * self._tail_unit)

    def _measure_safely(self, pending: bytearray, size: int) -> None:
        data = bytes(pending[:size])  # a copy: numpy's view must not pin the buffer
        del pending[:size]
        try:
            self._measure(data)
        except Exception as exc:  # handed to the caller of the result
            self._error = exc
            pending.clear()

    def wait(self) -> None:
        """Until the pipe has ended (FFmpeg exited) and everything in it is measured."""
        self._thread.join()

    def _finished(self) -> None:
        """Wait for the end; raise the error the reader met, if it met one."""
        self.wait()
        if self._error is not None:
            raise self._error
