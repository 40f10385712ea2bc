"""Audio measurements from the loudness and true-peak branches' metadata and from the window
levels and silences measured on the track's samples (media/levels.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from kickflow.media.levels import Levels
from kickflow.media.metadata import (
    MetaFrame,
    linear_to_db,
    merge_times,
    subtract,
)
from kickflow.media.model import AudioAnalysis, AudioStream, Loudness, LoudnessPoint, Segment
from kickflow.media.music import bed_blocks

CURVE_MAX_POINTS = 1200
GATE_FLOOR_LUFS = -69.9  # ebur128 reports -70 when nothing passes the absolute gate
CLIP_PEAK_DBFS = -0.1
OUT_OF_PHASE_BELOW = -0.5
OUT_OF_PHASE_MIN_S = 1.0
MONO_DIFF_BELOW_DB = 60.0  # L−R this far below the mix counts as identical channels
MONO_SHARE = 0.95
ACTIVE_RMS_DBFS = -60.0
# True peaks: the signal interpolated to this rate (4× at 48 kHz), as ebur128's own true-peak
# meter does (BS.1770 Annex 2), then its sample peaks.
TRUE_PEAK_RATE = 192000
# …through an interpolation filter of 12 taps per phase, the length of BS.1770's own (48 taps
# for 4 phases). On a 12 kHz sine at the worst phase for sample peaks (fs/4, 45°) it reads
# within 0.001 dB of the true −6.02 dBTP, as the resampler's default 32 taps do; 8 taps read
# 0.23 dB low. Fewer taps, less arithmetic: 2.4% less CPU on a three-track check
# (benchmarks/bench_audio_cost.py measures the audio branches).
TRUE_PEAK_FILTER = "filter_size=12"
# The peak meter on the interpolated signal: astats prints peaks in dBFS with six decimals, so
# they stay exact at any level (ebur128 prints linear peaks with three: −60 dBFS reads 0.001).
PEAK_METER = "astats=metadata=1:reset=1:measure_perchannel=Peak_level:measure_overall=none"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def loudness_from(
    frames: Sequence[MetaFrame],
    channels: int,
    peaks: Sequence[MetaFrame] | None = None,
    sample_peaks: tuple[float, ...] | None = None,
) -> Loudness:
    """Integrated loudness and LRA from the last frame; peaks are the maxima over frames.

    ``peaks`` is the true-peak branch (astats' ``lavfi.astats.N.Peak_level``, dBFS, after 4×
    interpolation) and ``sample_peaks`` each channel's, in dBFS, measured on the samples
    (:meth:`Levels.channel_peaks_db`). Without them the peaks come from ``frames`` (a meter run
    with ``peak=true+sample``, whose linear peaks lose precision on quiet material).
    """
    if not frames:
        return Loudness(None, None, None, None)
    last = frames[-1]
    integrated = last.number("lavfi.r128.I")
    if integrated is not None and integrated < GATE_FLOOR_LUFS:
        integrated = None
    step = max(1, math.ceil(len(frames) / CURVE_MAX_POINTS))
    curve = tuple(
        LoudnessPoint(
            round(f.t, 3),
            _round(_finite(f.number("lavfi.r128.M"))),
            _round(_finite(f.number("lavfi.r128.S"))),
        )
        for f in frames[::step]
    )
    true, channel_true = _peaks(peaks, channels, "true") if peaks else (None, ())
    if not peaks:
        true, channel_true = _peaks(frames, channels, "true")
    if sample_peaks is not None:
        channel_sample = tuple(_round(_finite(p)) for p in sample_peaks)
        sample = max((p for p in channel_sample if p is not None), default=None)
    else:
        sample, channel_sample = _peaks(frames, channels, "sample")
    return Loudness(
        integrated_lufs=_round(integrated),
        range_lu=_round(last.number("lavfi.r128.LRA")),
        true_peak_dbtp=true,
        sample_peak_dbfs=sample,
        channel_true_peaks_dbtp=channel_true,
        curve=curve,
        channel_sample_peaks_dbfs=channel_sample,
    )


def _peaks(
    frames: Sequence[MetaFrame], channels: int, kind: str
) -> tuple[float | None, tuple[float | None, ...]]:
    """The loudest peak and each channel's, in dB: astats' dB peaks when the frames carry them,
    else ebur128's linear ``{kind}_peak`` keys (a meter run with ``peak=true+sample``)."""
    if frames and "lavfi.astats.1.Peak_level" in frames[0].values:
        per_channel = tuple(
            _round(_finite(_max(frames, f"lavfi.astats.{c}.Peak_level")))
            for c in range(1, channels + 1)
        )
        return max((p for p in per_channel if p is not None), default=None), per_channel
    linear = tuple(
        _round(linear_to_db(_max(frames, f"lavfi.r128.{kind}_peaks_ch{c}")))
        for c in range(channels)
    )
    return _round(linear_to_db(_max(frames, f"lavfi.r128.{kind}_peak"))), linear


def _max(frames: Sequence[MetaFrame], key: str) -> float | None:
    values = [v for f in frames if (v := f.number(key)) is not None]
    return max(values) if values else None


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def silence_from(levels: Levels, end_s: float) -> tuple[list[Segment], list[Segment]]:
    """Whole-mix silence, and per-channel silence outside the whole-mix silence (a silence
    still open when the track ends lasts to ``end_s``)."""
    mix = [Segment(*levels.seconds(run, end_s)) for run in levels.mix_silences]
    per_channel: list[Segment] = []
    for c, runs in enumerate(levels.channel_silences, 1):
        found = [Segment(*levels.seconds(run, end_s), c) for run in runs]
        per_channel.extend(subtract(found, mix))
    return mix, per_channel


def analyse_audio(
    stream: AudioStream,
    *,
    levels: Levels,
    end_s: float,
    music: Sequence[MetaFrame] = (),
    window_s: float,
    clip_peak_dbfs: float = CLIP_PEAK_DBFS,
) -> AudioAnalysis:
    """Silence, clipping, DC offset, stereo phase and music-bed statistics of a track."""
    channels = stream.channels
    mix, per_channel = silence_from(levels, end_s)
    times, peaks = levels.times(), levels.window_peak_db()
    clipped = [t for t, p in zip(times, peaks, strict=True) if p >= clip_peak_dbfs]
    active = [p > ACTIVE_RMS_DBFS for p in peaks]
    phases = levels.phases() if channels == 2 else None
    return AudioAnalysis(
        stream_index=stream.index,
        channels=channels,
        silence=tuple(mix),
        channel_silence=tuple(per_channel),
        clipping=tuple(merge_times(clipped, window_s, max_gap=0.5)),
        clipped_windows=len(clipped),
        windows=levels.windows,
        dc_offset=levels.dc,
        phase_mean=_phase_mean(phases, active) if phases is not None else None,
        out_of_phase=tuple(_out_of_phase(times, phases, active, window_s)) if phases else (),
        mono_as_stereo=channels == 2 and _identical_channels(levels),
        analysed_duration_s=end_s,
        bed_blocks=bed_blocks(music),
    )


def _phase_mean(phases: list[float], active: list[bool]) -> float | None:
    values = [v for v, on in zip(phases, active, strict=True) if on]
    return round(sum(values) / len(values), 3) if values else None


def _out_of_phase(
    times: list[float], phases: list[float], active: list[bool], window_s: float
) -> list[Segment]:
    out = [
        t for t, v, on in zip(times, phases, active, strict=True) if on and v < OUT_OF_PHASE_BELOW
    ]
    runs = merge_times(out, window_s, max_gap=window_s * 1.5)
    return [s for s in runs if s.duration_s >= OUT_OF_PHASE_MIN_S]


def _identical_channels(levels: Levels) -> bool:
    """L and R carry the same signal: L−R sits far below the channels in active windows."""
    diffs = levels.diff_rms_db()
    if diffs is None:
        return False
    active = same = 0
    for level, d in zip(levels.window_rms_db(), diffs, strict=True):
        if level <= ACTIVE_RMS_DBFS:
            continue
        active += 1
        if d <= level - MONO_DIFF_BELOW_DB:
            same += 1
    return active > 0 and same / active >= MONO_SHARE
