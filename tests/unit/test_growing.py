"""Reading a file while another writer still appends to it."""

from __future__ import annotations

import threading
from pathlib import Path

from kickflow.media.growing import Growing, following, open_when_created


def test_a_read_waits_for_a_whole_unit_and_returns_what_is_written(tmp_path: Path) -> None:
    file = tmp_path / "out.raw"
    written, stop, asked = threading.Event(), threading.Event(), threading.Event()
    got: list[bytes] = []

    def reader() -> None:
        with following(file, written, stop, unit=4) as stream:
            assert stream is not None
            asked.set()
            got.append(stream.read(100))  # 3 bytes there: not a whole unit, it waits
            got.append(stream.read(100))  # the end: what is left
            got.append(stream.read(100))

    file.write_bytes(b"abc")
    thread = threading.Thread(target=reader)
    thread.start()
    assert asked.wait(timeout=60)
    with file.open("ab") as out:
        out.write(b"defgh")
        out.flush()
        out.write(b"ij")
    written.set()
    thread.join(timeout=60)
    assert got == [b"abcdefgh", b"ij", b""]


def test_stop_ends_a_waiting_read_and_a_file_never_made_is_none(tmp_path: Path) -> None:
    written, stop = threading.Event(), threading.Event()
    file = tmp_path / "out.raw"
    file.write_bytes(b"ab")
    result: list[bytes] = []
    with file.open("rb") as source:
        thread = threading.Thread(
            target=lambda: result.append(Growing(source, written, stop).read(5))
        )
        thread.start()
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive() and len(result) == 1 and len(result[0]) <= 2
    written.set()
    assert open_when_created(tmp_path / "never", written, threading.Event()) is None
    with following(tmp_path / "never", written) as never:
        assert never is None
