"""Music & effects presence: the statistics of one cheap branch per audio track.

The branch downmixes the track to mono, resamples it to 16 kHz and cuts it into 25 ms windows;
for each window FFmpeg gives its RMS level (astats) and its spectral flatness (aspectralstats).
This module groups the windows into blocks of ``BLOCK_S`` and keeps, per block, what the
``audio.music_bed`` heuristic needs (checks/music_bed.py decides with the profile's thresholds):

* the level floor (5th percentile of the window levels), median and top (90th percentile):
  a bed — music, ambience, a score — is continuous, so it keeps the floor up. Speech alone
  falls back to the noise floor (or digital silence) between words and phrases many times a
  second, so in 25 ms windows its floor sits far below its median;
* the share of active windows that are spectrally flat (noise-like): effects (steps, doors,
  whooshes, rain) are noise; voiced speech is harmonic and only its fricatives are flat.

No neural model: a documented heuristic whose error rates are measured on generated material by
benchmarks/bench_music.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kickflow.media.metadata import MetaFrame
from kickflow.media.model import BedBlock

RATE = 16000  # Hz: the analysed band is 0–8 kHz, where voice and most of a bed's energy sit
WINDOW = 400  # samples: 25 ms windows, shorter than the gaps between words
BLOCK_S = 3.0  # seconds per decision: longer than a word, shorter than a scene
ACTIVE_DBFS = -50.0  # a window above this level carries something
NOISE_FLATNESS = 0.6  # a window flatter than this is noise-like (white noise ≈ 0.85)
FLOOR_SHARE = 0.05  # the floor is this percentile of the block's window levels
TOP_SHARE = 0.9
# FFmpeg's own downmix matrix (LFE left out) needs a layout it knows: up to 8 channels.
MATRIX_MAX_CHANNELS = 8


def chain(channels: int) -> str:
    """The branch for a track of ``channels``: a mono downmix at 16 kHz in 25 ms windows, then
    the two meters on the same frames."""
    return (
        f"{_downmix(channels)},aresample={RATE},asetnsamples=n={WINDOW}:p=0,"
        f"aspectralstats=win_size={WINDOW}:overlap=0:measure=flatness,"
        "astats=metadata=1:reset=1:measure_perchannel=RMS_level:measure_overall=none"
    )


def _downmix(channels: int) -> str:
    """Wider streams (no layout FFmpeg can rematrix) are averaged channel by channel."""
    if channels <= MATRIX_MAX_CHANNELS:
        return "aformat=channel_layouts=mono"
    weight = f"{1 / channels:.6g}"
    return "pan=mono|c0=" + "+".join(f"{weight}*c{c}" for c in range(channels))


KEYS = ("lavfi.aspectralstats.1.flatness", "lavfi.astats.1.RMS_level")


def bed_blocks(frames: Sequence[MetaFrame], block_s: float = BLOCK_S) -> tuple[BedBlock, ...]:
    """The per-block statistics of a track's music branch, in time order."""
    groups: dict[int, list[MetaFrame]] = {}
    for frame in frames:
        groups.setdefault(int(frame.t // block_s), []).append(frame)
    return tuple(_block(index * block_s, groups[index]) for index in sorted(groups))


def _block(start: float, frames: Sequence[MetaFrame]) -> BedBlock:
    levels = sorted(_level(f) for f in frames)
    active = [f for f in frames if _level(f) > ACTIVE_DBFS]
    flat = [f for f in active if (f.number(KEYS[0]) or 0.0) >= NOISE_FLATNESS]
    return BedBlock(
        t=round(start, 3),
        floor_dbfs=_percentile(levels, FLOOR_SHARE),
        median_dbfs=_percentile(levels, 0.5),
        top_dbfs=_percentile(levels, TOP_SHARE),
        active_share=round(len(active) / len(frames), 3),
        noise_share=round(len(flat) / len(active), 3) if active else 0.0,
    )


def _level(frame: MetaFrame) -> float:
    value = frame.number(KEYS[1])
    return value if value is not None and math.isfinite(value) else -math.inf


def _percentile(ordered: Sequence[float], share: float) -> float | None:
    """The value at ``share`` of the sorted levels; None for digital silence (−inf)."""
    value = ordered[min(len(ordered) - 1, int(share * len(ordered)))]
    return round(value, 2) if math.isfinite(value) else None
