"""The probe child as a process: started ahead or on demand, asked once, answered in a line.

The probe child spends about 0.1 s importing PyAV before it can open anything, and the CLI
spends about as long importing the settings and the engine before it knows the probe limits.
So ``kickflow check`` starts the child first (``prestart``), goes on with its own imports on
the other core, and ``kickflow.media.probing`` hands the started child its request (``take``;
otherwise ``spawn`` starts one cold). Either way the child caps its own address space from the
request before it opens the file: the cap covers all the file can make it do.

The answer is one line on stdout, read as soon as it is written (``exchange``): the child's
exit with PyAV loaded takes another 20–30 ms, which nobody needs to wait for; such a child is
reaped by the next exchange, or at exit (``reap``).

``prestart`` also starts ``ffmpeg -filters`` (the graph needs the build's filter list), whose
answer ``kickflow.media.binaries.available_filters`` reads when it asks for the same binary.
No threads: importing on a second thread while the first imports is not safe for every
module (dataclasses peeks at a half-imported ``typing``).

Light on purpose: this module is imported before the settings and must not import them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import selectors
import subprocess
import sys
import threading
import time

READ_CHUNK = 65536

_lock = threading.Lock()
_waiting: list[subprocess.Popen[bytes]] = []  # the started child, at most one
_exiting: list[subprocess.Popen[bytes]] = []  # answered children not yet reaped


def spawn() -> subprocess.Popen[bytes]:
    """A probe child waiting for its request on stdin (its own session: killable as a group).

    No ``preexec_fn`` limit: the child caps its own address space from the request, before
    it opens the file, whether it was started ahead or just now."""
    return subprocess.Popen(
        [sys.executable, "-m", "kickflow.media.probe_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # No bytecode writes from a process that opens hostile files.
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def prestart() -> None:
    """Start one probe child now (at most one waits; a second call keeps the first), and
    FFmpeg's filter listing."""
    with _lock:
        if not _waiting:
            _waiting.append(spawn())
    from kickflow.errors import FfmpegMissing
    from kickflow.media import binaries

    with contextlib.suppress(FfmpegMissing):  # the check's own lookup says so, in its words
        binaries.start_listing(binaries.find_ffmpeg().path, "-filters")


def take() -> subprocess.Popen[bytes] | None:
    """The started child, still waiting for its request, or None (then spawn one)."""
    with _lock:
        child = _waiting.pop() if _waiting else None
    if child is not None and child.poll() is not None:
        child.communicate()  # it died before its request (reaped; the caller spawns one)
        return None
    return child


def exchange(
    child: subprocess.Popen[bytes], request: str, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """Send ``request``; return once the child printed its answer line, or once it ended
    without one (then with its exit status and stderr). TimeoutExpired after ``timeout_s``,
    the child killed."""
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    deadline = time.monotonic() + timeout_s
    with contextlib.suppress(BrokenPipeError):  # it died already: its stderr says why
        child.stdin.write(request.encode() + b"\n")
        child.stdin.close()
    out, err = bytearray(), bytearray()
    streams = {child.stdout.fileno(): out, child.stderr.fileno(): err}
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() and b"\n" not in out:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(child)
                raise subprocess.TimeoutExpired(child.args, timeout_s)
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, READ_CHUNK)
                if chunk:
                    streams[key.fd] += chunk
                else:
                    selector.unregister(key.fd)
    if b"\n" in out:  # answered: let it exit on its own time
        _close_pipes(child)
        with _lock:
            _exiting[:] = [c for c in _exiting if c.poll() is None]  # reap the earlier ones
            _exiting.append(child)
        return subprocess.CompletedProcess(child.args, 0, _text(out), _text(err))
    try:
        code = child.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(child)
        raise
    return subprocess.CompletedProcess(child.args, code, _text(out), _text(err))


def _text(data: bytearray) -> str:
    return data.decode(errors="replace")  # stderr may carry a hostile file's bytes


def _close_pipes(child: subprocess.Popen[bytes]) -> None:
    for pipe in (child.stdin, child.stdout, child.stderr):
        if pipe is not None:
            pipe.close()


def _kill(child: subprocess.Popen[bytes]) -> None:
    child.kill()
    child.wait()
    _close_pipes(child)


def reap() -> None:
    """Wait for the answered children that have not exited yet, and end an unused started
    one (end of input: it leaves on its own)."""
    with _lock:
        children = [*_exiting, *_waiting]
        _exiting.clear()
        _waiting.clear()
    for child in children:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill(child)
        _close_pipes(child)


atexit.register(reap)
