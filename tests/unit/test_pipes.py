"""One thread reads every pipe of a run: each reader gets its own pipe's data, whole."""

from __future__ import annotations

import os
import threading

import pytest

from kickflow.media.pipes import PipeGroup, PipeReader, open_pipe


class Collect(PipeReader):
    def __init__(self, read_end: int, group: PipeGroup, fail_after: int | None = None) -> None:
        self.batches: list[bytes] = []
        self.fail_after = fail_after
        super().__init__(read_end, unit=4, batch=2, tail_unit=1, group=group)

    def _measure(self, data: bytes) -> None:
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise ValueError("this reader gives up")
        self.batches.append(data)

    def result(self) -> bytes:
        self._finished()
        return b"".join(self.batches)


def _write(fd: int, data: bytes) -> threading.Thread:
    def run() -> None:
        with os.fdopen(fd, "wb", buffering=0) as pipe:
            for start in range(0, len(data), 4093):  # chunks that split the units
                pipe.write(data[start : start + 4093])

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_one_group_reads_several_pipes_and_a_failing_reader_still_drains() -> None:
    group = PipeGroup()
    pipes = [open_pipe() for _ in range(3)]
    readers = [Collect(pipes[0][0], group), Collect(pipes[1][0], group, fail_after=1)]
    readers.append(Collect(pipes[2][0], group))
    group.start()
    # More than the pipes hold: a reader that stopped reading would block its writer forever.
    data = [bytes(range(256)) * 40_000 + b"tail!", b"x" * 9_000_000, b""]
    writers = [_write(write_end, chunk) for (_, write_end), chunk in zip(pipes, data, strict=True)]
    for writer in writers:
        writer.join(timeout=120)
        assert not writer.is_alive()
    assert readers[0].result() == data[0]  # the last, shorter unit included (tail_unit=1)
    with pytest.raises(ValueError, match="gives up"):
        readers[1].result()
    assert readers[2].result() == b""


def test_a_group_takes_no_reader_once_started() -> None:
    group = PipeGroup()
    read_end, write_end = open_pipe()
    Collect(read_end, group)
    group.start()
    other_read, other_write = open_pipe()
    try:
        with pytest.raises(RuntimeError, match="before it starts"):
            Collect(other_read, group)
    finally:
        for fd in (write_end, other_read, other_write):
            os.close(fd)


class Broken(Collect):
    def take(self, chunk: bytes) -> None:
        raise RuntimeError("the group's own fault")


def test_a_fault_in_the_group_ends_every_reader_and_closes_its_pipes() -> None:
    group = PipeGroup()
    (first_read, first_write), (second_read, second_write) = open_pipe(), open_pipe()
    readers = [Broken(first_read, group), Collect(second_read, group)]
    group.start()
    os.write(first_write, b"abcd")
    for reader in readers:
        with pytest.raises(RuntimeError, match="own fault"):
            reader.result()
    for fd in (first_write, second_write):  # the writers (FFmpeg) fail rather than wait
        with pytest.raises(BrokenPipeError):
            os.write(fd, b"more")
        os.close(fd)
