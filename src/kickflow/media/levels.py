"""Window levels and silences of an audio track, measured here on the samples the run writes.

Each analysed track leaves the run's filter graph once more as 32-bit float PCM on a pipe (no
file: an hour of 48 kHz stereo is 1.4 GB). A thread reads it while FFmpeg decodes and measures
every window of ``window_s`` (the last one may be shorter), per channel: sample peak, RMS and
the sum for the DC offset; for stereo also the phase (the mean over the window of
2·L·R / (L² + R²), 1 where both are 0, as FFmpeg's ``aphasemeter`` computes it) and the RMS of
L−R. Silences are found on the same samples as FFmpeg's ``silencedetect`` finds them: a run of
at least ``min_s`` of samples each strictly within ±threshold, on every channel at once (the
mix) and on each channel alone; a run still open at the end is closed at the programme's end by
the caller.

FFmpeg did all this before (``astats`` with ``aphasemeter``, an L−R ``astats`` branch and two
``silencedetect`` a track). The saving is modest: on a 20-s 1080p clip with 8 tracks FFmpeg's
CPU time falls by 15 % (4.08 → 3.46 s) and the readers take 0.40 s of that back
(benchmarks/bench_audio_cost.py); on one track the two ways cost the same.

The pipe carries no timestamps: window ``k`` starts at ``start_s + k * window_s``, the track's
start in programme time (a gap inside the stream is not seen, as the speech PCM does not see it).
A reader that fails keeps draining the pipe (so FFmpeg never waits on it) and raises its error
from :meth:`LevelsReader.result` (media/pipes.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kickflow.media.pipes import PipeGroup, PipeReader

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]
    Flags = npt.NDArray[np.bool_]

SAMPLE_BYTES = 4  # f32le
BATCH_WINDOWS = 10  # windows measured at a time (numpy's per-call cost, spread)
WRITE_S = 0.5  # of samples in each write to the pipe


def chain(sample_rate: int) -> str:
    """The samples as they leave the graph: interleaved floats, half a second a frame.

    FFmpeg writes each frame to the pipe in one go; at the decoder's 1024 samples a frame, the
    reader woke 700 times a second per track and those wake-ups cost more than the measuring.
    """
    return f"aformat=sample_fmts=flt,asetnsamples=n={max(1, round(sample_rate * WRITE_S))}:p=0"


def output_args(pad: str, fd: int) -> list[str]:
    """The track's samples as a raw output of the run, written to the pipe ``fd``."""
    return ["-map", pad, "-c:a", "pcm_f32le", "-f", "f32le", f"pipe:{fd}"]


@dataclass(frozen=True)
class SilenceRule:
    threshold_db: float = -60.0
    min_s: float = 1.0


# A run of silent samples: first sample, and the first one after it (None: open at the end).
Run = tuple[int, int | None]


class _Runs:
    """Runs of at least ``min_len`` silent samples in one boolean stream, fed in pieces."""

    def __init__(self, min_len: int) -> None:
        self.min_len = max(1, min_len)
        self.open_start: int | None = None
        self.found: list[Run] = []

    def feed(self, silent: Flags, offset: int) -> None:
        import numpy as np

        before = 1 if self.open_start is not None else 0
        edges = np.diff(silent.astype(np.int8), prepend=np.int8(before))
        starts = (np.flatnonzero(edges == 1) + offset).tolist()
        ends = np.flatnonzero(edges == -1) + offset
        if self.open_start is not None:
            starts.insert(0, self.open_start)
        closed = np.asarray(starts[: len(ends)], dtype=np.int64)
        long_enough = ends - closed >= self.min_len
        pairs = zip(closed[long_enough].tolist(), ends[long_enough].tolist(), strict=True)
        self.found.extend(pairs)
        self.open_start = starts[-1] if len(starts) > len(ends) else None

    def runs(self, total: int) -> list[Run]:
        """Every run found; one still open counts when it has lasted long enough."""
        tail = self.open_start
        if tail is not None and total - tail >= self.min_len:
            return [*self.found, (tail, None)]
        return list(self.found)


@dataclass(frozen=True)
class Levels:
    """Per-window measurements of one track (rows: windows; columns: channels)."""

    start_s: float
    window_s: float
    peak: Array  # linear sample peak
    rms: Array
    dc: tuple[float, ...]  # mean of each channel over the whole track
    phase: Array | None  # stereo only
    diff_rms: Array | None  # RMS of L−R, stereo only
    sample_rate: int
    mix_silences: tuple[Run, ...]  # every channel silent at once (sample indices)
    channel_silences: tuple[tuple[Run, ...], ...]  # each channel's own (none for mono)

    @property
    def windows(self) -> int:
        return int(self.peak.shape[0])

    def times(self) -> list[float]:
        return [round(self.start_s + k * self.window_s, 6) for k in range(self.windows)]

    def last_s(self) -> float:
        """When the last window starts (0 when there is none)."""
        return self.start_s + max(0, self.windows - 1) * self.window_s

    def window_peak_db(self) -> list[float]:
        """Each window's loudest channel's sample peak, in dBFS (−inf for digital silence)."""
        return [_db(p) for p in self.peak.max(axis=1, initial=0.0)]

    def window_rms_db(self) -> list[float]:
        return [_db(r) for r in self.rms.max(axis=1, initial=0.0)]

    def channel_peaks_db(self) -> tuple[float, ...]:
        """Each channel's sample peak over the whole track, in dBFS."""
        return tuple(_db(p) for p in self.peak.max(axis=0, initial=0.0))

    def phases(self) -> list[float] | None:
        return None if self.phase is None else [float(p) for p in self.phase]

    def diff_rms_db(self) -> list[float] | None:
        return None if self.diff_rms is None else [_db(d) for d in self.diff_rms]

    def seconds(self, run: Run, end_s: float) -> tuple[float, float]:
        """A run in programme seconds (one still open ends at ``end_s``)."""
        start = self.start_s + run[0] / self.sample_rate
        end = end_s if run[1] is None else self.start_s + run[1] / self.sample_rate
        return round(start, 6), round(max(start, end), 6)


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf


class LevelsReader(PipeReader):
    """Measures one track's PCM as it comes from the run's pipe (read by ``group``'s thread,
    or by a thread of its own)."""

    def __init__(
        self,
        read_end: int,
        channels: int,
        sample_rate: int,
        window_s: float,
        start_s: float,
        silence: SilenceRule | None = None,
        group: PipeGroup | None = None,
    ) -> None:
        self.channels = max(1, channels)
        self.sample_rate = max(1, sample_rate)
        self.window = max(1, round(self.sample_rate * window_s))
        self.window_s = self.window / self.sample_rate
        self.start_s = start_s
        rule = silence or SilenceRule()
        self._quiet = 10 ** (rule.threshold_db / 20)
        min_len = round(rule.min_s * self.sample_rate)
        self._mix = _Runs(min_len)
        # A mono track's only channel is the mix: its silences outside the mix's are none.
        self._each = [_Runs(min_len) for _ in range(self.channels)] if self.channels > 1 else []
        self._peaks: list[Array] = []
        self._rms: list[Array] = []
        self._phases: list[Array] = []  # stereo only, as is the L−R RMS
        self._diffs: list[Array] = []
        self._sums = [0.0] * self.channels  # for the DC offset
        self._samples = 0
        frame = self.channels * SAMPLE_BYTES
        super().__init__(read_end, self.window * frame, BATCH_WINDOWS, frame, group)

    def _measure(self, data: bytes) -> None:
        import numpy as np  # here, not at import: the CLI's start-up stays short

        samples = np.frombuffer(data, dtype="<f4").reshape(-1, self.channels)
        offset = self._samples
        self._samples += samples.shape[0]
        magnitude = np.abs(samples)
        silent = magnitude < self._quiet
        # Per column, not along axis 1: numpy reduces a short inner axis twenty times slower.
        everywhere = silent[:, 0].copy()
        for channel in range(1, self.channels):
            everywhere &= silent[:, channel]
        self._mix.feed(everywhere, offset)
        for channel, runs in enumerate(self._each):
            runs.feed(silent[:, channel], offset)
        rows = -(-samples.shape[0] // self.window)
        starts = np.arange(rows) * self.window
        wide = samples.astype(np.float64)
        square = np.square(wide)
        counts = np.diff(np.append(starts, samples.shape[0]))[:, None]
        self._peaks.append(np.maximum.reduceat(magnitude, starts, axis=0).astype(np.float64))
        self._rms.append(np.sqrt(np.add.reduceat(square, starts, axis=0) / counts))
        sums = np.add.reduceat(wide, starts, axis=0).sum(axis=0)
        self._sums = [total + float(more) for total, more in zip(self._sums, sums, strict=True)]
        if self.channels == 2:
            left, right = wide[:, 0], wide[:, 1]
            energy = square[:, 0] + square[:, 1]
            both = np.divide(2 * left * right, energy, out=np.ones_like(energy), where=energy > 0)
            self._phases.append(np.add.reduceat(both, starts) / counts[:, 0])
            difference = np.add.reduceat(np.square(left - right), starts) / counts[:, 0]
            self._diffs.append(np.sqrt(difference))

    def result(self) -> Levels:
        """The measurements of everything the run wrote (call after the run has ended)."""
        import numpy as np

        self._finished()

        def joined(parts: list[Array], shape: tuple[int, ...]) -> Array:
            return np.concatenate(parts) if parts else np.zeros(shape)

        count = max(1, self._samples)
        stereo = self.channels == 2
        return Levels(
            self.start_s,
            self.window_s,
            joined(self._peaks, (0, self.channels)),
            joined(self._rms, (0, self.channels)),
            tuple(round(total / count, 6) for total in self._sums),
            joined(self._phases, (0,)) if stereo else None,
            joined(self._diffs, (0,)) if stereo else None,
            self.sample_rate,
            tuple(self._mix.runs(self._samples)),
            tuple(tuple(r.runs(self._samples)) for r in self._each),
        )
