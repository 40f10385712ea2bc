"""Window levels measured on a track's samples as they come through a pipe."""

from __future__ import annotations

import math
import os
import threading

import numpy as np
import pytest

from kickflow.media.audio import silence_from
from kickflow.media.levels import LevelsReader, SilenceRule
from kickflow.media.model import Segment
from kickflow.media.pipes import open_pipe


def _write_all(write_end: int, data: bytes, piece: int) -> threading.Thread:
    def run() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as pipe:
            for at in range(0, len(data), piece):
                pipe.write(data[at : at + piece])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _interleaved(*channels: list[float]) -> bytes:
    return np.array(channels, dtype="<f4").T.tobytes()


def test_stereo_windows_give_peak_rms_dc_phase_and_difference() -> None:
    # 40 Hz "sample rate", 0.1-s windows: four samples a window, the last one half a window.
    a = [0.5, -0.5, 0.5, -0.5]
    left = a + a + [0.0] * 4 + [0.25, 0.25]
    right = a + [-v for v in a] + [0.0] * 4 + [0.0, 0.0]
    read_end, write_end = open_pipe()
    reader = LevelsReader(read_end, 2, 40, 0.1, start_s=1.5)
    _write_all(write_end, _interleaved(left, right), piece=12).join()
    levels = reader.result()
    assert levels.windows == 4
    assert levels.times() == [1.5, 1.6, 1.7, 1.8]
    peaks = levels.window_peak_db()
    assert peaks[:2] == [pytest.approx(-6.0206, abs=1e-4)] * 2
    assert peaks[2] == -math.inf and peaks[3] == pytest.approx(-12.0412, abs=1e-4)
    assert levels.window_rms_db()[0] == pytest.approx(-6.0206, abs=1e-4)
    # In phase, opposite, digital silence (counted as in phase), one channel only.
    assert levels.phases() == pytest.approx([1.0, -1.0, 1.0, 0.0])
    diff = levels.diff_rms_db()
    assert diff is not None and diff[0] == -math.inf
    assert diff[1] == pytest.approx(0.0, abs=1e-6)  # L−R = 2·L: RMS 1.0
    assert levels.dc == (round(0.5 / 14, 6), 0.0)
    assert levels.channel_peaks_db() == pytest.approx((-6.0206, -6.0206), abs=1e-4)
    assert levels.last_s() == pytest.approx(1.8)


def test_batches_keep_the_windows_aligned_however_the_pipe_delivers() -> None:
    rng = np.random.default_rng(7)
    samples = (rng.standard_normal((48000 * 3 + 1234, 6)) * 0.1).astype("<f4")
    read_end, write_end = open_pipe()
    reader = LevelsReader(read_end, 6, 48000, 0.1, start_s=0.0)
    _write_all(write_end, samples.tobytes(), piece=100_003).join()  # pieces cut mid-sample
    levels = reader.result()
    assert levels.windows == 31  # 30 whole windows of 4800 samples and 1234 samples more
    whole = samples[: 30 * 4800].reshape(30, 4800, 6).astype(np.float64)
    np.testing.assert_allclose(levels.peak[:30], np.abs(whole).max(axis=1), rtol=1e-7)
    np.testing.assert_allclose(levels.rms[:30], np.sqrt((whole**2).mean(axis=1)), rtol=1e-9)
    np.testing.assert_allclose(levels.peak[30], np.abs(samples[30 * 4800 :]).max(axis=0))
    assert levels.phase is None and levels.diff_rms is None  # not stereo
    expected_dc = samples.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(levels.dc, expected_dc, atol=1e-6)


def test_a_reader_that_fails_keeps_draining_and_reports_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: LevelsReader, data: bytes) -> None:
        raise RuntimeError("measuring went wrong")

    monkeypatch.setattr(LevelsReader, "_measure", broken)
    read_end, write_end = open_pipe()
    reader = LevelsReader(read_end, 2, 48000, 0.1, start_s=0.0)
    # Far more than a pipe holds: the writer only finishes if the reader keeps reading.
    writer = _write_all(write_end, bytes(8 * 1024 * 1024), piece=65536)
    writer.join(timeout=60)
    assert not writer.is_alive()
    with pytest.raises(RuntimeError, match="measuring went wrong"):
        reader.result()


def test_nothing_written_is_no_windows() -> None:
    read_end, write_end = open_pipe()
    reader = LevelsReader(read_end, 2, 48000, 0.1, start_s=0.0)
    os.close(write_end)
    levels = reader.result()
    assert levels.windows == 0 and levels.dc == (0.0, 0.0)
    assert levels.channel_peaks_db() == (-math.inf, -math.inf)


def test_silences_of_the_mix_and_of_each_channel_outside_it() -> None:
    # 100 samples a second; -60 dBFS is 0.001: a sample is silent strictly within ±0.001.
    rate, loud, quiet = 100, 0.5, 0.0005
    left = [loud] * 100 + [quiet] * 200 + [loud] * 700  # silent 1–3 s
    right = [loud] * 100 + [-quiet] * 900  # silent from 1 s to the end
    left[550:600] = [0.0] * 50  # half a second: shorter than the minimum, not a silence
    right[101:200:2] = [0.001] * 50  # at the threshold is not silent: no silence before 2 s
    read_end, write_end = open_pipe()
    reader = LevelsReader(read_end, 2, rate, 0.1, start_s=0.0, silence=SilenceRule(-60.0, 1.0))
    _write_all(write_end, _interleaved(left, right), piece=56).join()
    levels = reader.result()
    mix, per_channel = silence_from(levels, end_s=12.0)
    assert mix == [Segment(2.0, 3.0)]
    # Each channel's own, outside the mix's: channel 1 before channel 2 falls silent too;
    # channel 2 stays silent to the end (closed at the programme's end).
    assert per_channel == [Segment(1.0, 2.0, channel=1), Segment(3.0, 12.0, channel=2)]
    assert levels.channel_silences[0] == ((100, 300),)
