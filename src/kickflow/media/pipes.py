"""Raw outputs of the analysis run read on pipes while FFmpeg writes them.

A track's samples (media/levels.py) and the sampled picture (media/picture.py) leave the run's
filter graph as raw data on a pipe, not a file: an hour of 48 kHz stereo is 1.4 GB. A
:class:`PipeReader` gets its pipe's data in whole units (windows, frames), a batch at a time.
The readers of one run share one thread (:class:`PipeGroup`): with a thread per pipe, each
thread's allocator arena kept the peak of its own batches' numpy temporaries, and the process
grew by ~10 MB for every track. A reader that fails keeps draining its pipe, so FFmpeg never
waits on it, and raises its error when the caller asks for the result.
"""

from __future__ import annotations

import os
import selectors
import threading

READ_BYTES = 1 << 18
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


class PipeGroup:
    """One thread reading the pipes of several readers, each handed what its pipe brings.

    Add every reader, then :meth:`start`; the thread ends when every pipe has ended (all their
    write ends are closed: FFmpeg exited, or never started and the caller closed them).
    """

    def __init__(self) -> None:
        self._readers: dict[int, PipeReader] = {}
        self._started = False

    def add(self, read_end: int, reader: PipeReader) -> None:
        if self._started:
            raise RuntimeError("a pipe group takes its readers before it starts")
        self._readers[read_end] = reader

    def start(self) -> None:
        if not self._started:
            self._started = True
            threading.Thread(target=self._run, name="pipe-readers", daemon=True).start()

    def _run(self) -> None:
        opened = set(self._readers)
        try:
            with selectors.DefaultSelector() as selector:
                for fd in opened:
                    selector.register(fd, selectors.EVENT_READ)
                while opened:
                    for key, _events in selector.select():
                        if not self._read(key.fd):
                            selector.unregister(key.fd)
                            opened.discard(key.fd)
                            os.close(key.fd)
                            self._readers[key.fd].end()
        except Exception as exc:  # a fault here must not leave a reader waiting forever:
            for fd in opened:  # FFmpeg's writes to the closed pipes fail, and so does its run
                self._readers[fd].fail(exc)
                os.close(fd)
                self._readers[fd].end()

    def _read(self, fd: int) -> bool:
        """Hand the reader what its pipe has; False once the pipe has ended."""
        reader = self._readers[fd]
        try:
            chunk = os.read(fd, READ_BYTES)  # ready: what is there, or b"" at the end
        except OSError as exc:
            reader.fail(exc)
            return False
        if chunk:
            reader.take(chunk)
        return bool(chunk)


class PipeReader:
    """Gets one pipe's data; :meth:`_measure` gets ``batch`` whole units at a time, and at the
    end what is left in whole ``tail_unit`` pieces (a last, shorter window).

    With a ``group``, the group's thread reads the pipe once started; without one, the reader
    has a thread of its own, started here.
    """

    def __init__(
        self,
        read_end: int,
        unit: int,
        batch: int,
        tail_unit: int,
        group: PipeGroup | None = None,
    ) -> None:
        self._unit = max(1, unit)
        self._batch = max(1, batch)
        self._tail_unit = max(1, tail_unit)
        self._pending = bytearray()
        self._error: Exception | None = None
        self._ended = threading.Event()
        own = group or PipeGroup()
        own.add(read_end, self)
        if group is None:
            own.start()

    def _measure(self, data: bytes) -> None:
        raise NotImplementedError

    def take(self, chunk: bytes) -> None:
        """More of the pipe's data (from the group's thread)."""
        if self._error is not None:
            return  # drain: FFmpeg must never wait on a reader that gave up
        self._pending += chunk
        whole = len(self._pending) // self._unit
        if whole >= self._batch:
            self._measure_safely(whole * self._unit)

    def end(self) -> None:
        """The pipe has ended: measure what is left (from the group's thread)."""
        try:
            if self._error is None and len(self._pending) >= self._tail_unit:
                self._measure_safely(len(self._pending) // self._tail_unit * self._tail_unit)
        finally:
            self._pending.clear()
            self._ended.set()

    def fail(self, exc: Exception) -> None:
        """Record the reader's first error; what comes after it is drained unmeasured."""
        if self._error is None:
            self._error = exc
        self._pending.clear()

    def _measure_safely(self, size: int) -> None:
        data = bytes(self._pending[:size])  # a copy: numpy's view must not pin the buffer
        del self._pending[:size]
        try:
            self._measure(data)
        except Exception as exc:  # handed to the caller of the result
            self.fail(exc)

    def wait(self) -> None:
        """Until the pipe has ended (FFmpeg exited) and everything in it is measured."""
        self._ended.wait()

    def _finished(self) -> None:
        """Wait for the end; raise the error the reader met, if it met one."""
        self.wait()
        if self._error is not None:
            raise self._error
