"""The probe child as a process: started ahead or cold, one request, one answer line, limits.

Start-up timing is measured in benchmarks/bench_startup.py; these tests show the behaviour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kickflow.errors import NotMedia, ResourceLimitExceeded
from kickflow.media import binaries, probe_process
from kickflow.media.probing import ProbeLimits, probe


@pytest.fixture(autouse=True)
def no_child_left() -> object:
    """Each test starts and ends without a started or unreaped child."""
    probe_process.reap()
    yield
    probe_process.reap()


def test_a_started_child_answers_the_probe(short_clip: Path) -> None:
    probe_process.prestart()
    started = probe_process._waiting[0]
    media = probe(short_clip, short_clip.stat().st_size, ProbeLimits())
    assert media.video and media.audio and media.duration_s == pytest.approx(3, abs=0.1)
    assert probe_process.take() is None, "the started child was used, not a second one"
    probe_process.reap()
    assert started.returncode == 0


def test_a_cold_probe_gives_the_same_answer(short_clip: Path) -> None:
    probe_process.prestart()
    warm = probe(short_clip, short_clip.stat().st_size, ProbeLimits())
    cold = probe(short_clip, short_clip.stat().st_size, ProbeLimits())
    assert warm == cold


def test_the_answer_does_not_wait_for_the_childs_exit(short_clip: Path) -> None:
    child = probe_process.spawn()
    request = {"path": str(short_clip), "size_bytes": short_clip.stat().st_size,
               "allow_raw_pcm": False, "max_pixels": 10**8, "max_memory_mb": 0}  # fmt: skip
    done = probe_process.exchange(child, json.dumps(request), timeout_s=60)
    assert json.loads(done.stdout)["media"]["format_name"].startswith("mov")
    assert child in probe_process._exiting, "kept to be reaped, not waited for"
    probe_process.reap()
    assert child.returncode == 0 and not probe_process._exiting


def test_a_hung_probe_is_refused_after_its_time_limit(tmp_path: Path) -> None:
    """Opening a FIFO with no writer blocks forever: the time limit ends it, warm or cold."""
    fifo = tmp_path / "never.mp4"
    os.mkfifo(fifo)
    limits = ProbeLimits(timeout_s=1.5)
    probe_process.prestart()
    for _ in ("warm", "cold"):
        with pytest.raises(ResourceLimitExceeded, match="took longer than 2 s"):
            probe(fifo, 1000, limits)
    assert probe_process.take() is None


def test_a_started_child_sets_the_memory_limit_of_the_request(short_clip: Path) -> None:
    """The limit arrives with the request: a child capped far below PyAV's own needs cannot
    open the file, and says so as a refusal instead of a crash."""
    probe_process.prestart()
    with pytest.raises((ResourceLimitExceeded, NotMedia)) as caught:
        probe(short_clip, short_clip.stat().st_size, ProbeLimits(max_memory_mb=40))
    assert "Traceback" not in str(caught.value)


def test_a_child_that_dies_before_its_request_is_replaced(short_clip: Path) -> None:
    probe_process.prestart()
    started = probe_process._waiting[0]
    started.kill()
    started.wait()
    media = probe(short_clip, short_clip.stat().st_size, ProbeLimits())
    assert media.audio


def test_an_unused_started_child_leaves_when_the_cli_does() -> None:
    code = (
        "from kickflow.media import probe_process\n"
        "probe_process.prestart()\n"
        "print(probe_process._waiting[0].pid, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(done.stdout.strip())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped at exit: no such process any more


def test_the_started_filter_listing_is_the_same_as_a_fresh_one() -> None:
    path = binaries.find_ffmpeg().path
    binaries.start_listing(path, "-filters")
    started = binaries._listing(path, "-filters")
    assert started == binaries._listing(path, "-filters")  # the second one runs afresh
    assert "ebur128" in started


def test_the_wheels_ffmpeg_is_found_without_asking_it() -> None:
    import imageio_ffmpeg

    assert binaries._wheel_ffmpeg() == imageio_ffmpeg.get_ffmpeg_exe()
