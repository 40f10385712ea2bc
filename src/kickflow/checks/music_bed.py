"""``audio.music_bed``: music & effects presence on the tracks whose role needs a bed.

A heuristic, not a classifier (media/music.py measures; the thresholds are ``[music_bed]``).
Each 3-s block of a track is one of:

* ``silent``: its loudest windows (90th percentile) are below ``silent_below_dbfs``;
* ``bed``: music or effects are present — either the block is mostly noise-like (effects: at
  least ``min_active_share`` active and ``min_noise_share`` of that spectrally flat), or its
  level floor stays up (≥ ``min_floor_dbfs`` and within ``max_dip_db`` of its median): something
  continuous carries on between the sounds;
* ``speech-like``: active, but falling back to silence (or a low noise floor) between sounds,
  as dialogue alone does. Dialogue leaked into an M&E, or a bed mixed too quiet, reads so.

Speech *over* a bed is not found here (the bed is present); that is voice activity's job.
Measured error rates on generated material: benchmarks/bench_music.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from kickflow.checks.base import Context, Finding, Outcome, capped, result, seconds
from kickflow.checks.tracks import TrackView, track_views
from kickflow.media.model import BedBlock, Segment
from kickflow.media.music import BLOCK_S
from kickflow.profiles.music_spec import MusicBedSpec, judged_roles

BedState = Literal["bed", "speech-like", "silent"]
MAX_FINDINGS = 10


def block_state(block: BedBlock, spec: MusicBedSpec) -> BedState:
    """What one block carries on its own, by the thresholds of ``spec``."""
    return _state(block, spec).partition(":")[0]  # type: ignore[return-value]


def _state(block: BedBlock, spec: MusicBedSpec) -> str:
    """``bed:effects`` and ``bed:continuous`` tell the two kinds of evidence apart."""
    if block.top_dbfs is None or block.top_dbfs < spec.silent_below_dbfs:
        return "silent"
    if block.active_share >= spec.min_active_share and block.noise_share >= spec.min_noise_share:
        return "bed:effects"
    floor, median = block.floor_dbfs, block.median_dbfs
    if floor is None or median is None:
        return "speech-like"
    if floor >= spec.min_floor_dbfs and median - floor <= spec.max_dip_db:
        return "bed:continuous"
    return "speech-like"


def block_states(blocks: Sequence[BedBlock], spec: MusicBedSpec) -> list[BedState]:
    """Every block's state, in order. A bed found only by its level floor must last
    ``min_continuous_s``: a single phrase of speech can run a block long without a pause, a
    bed carries on."""
    raw = [_state(b, spec) for b in blocks]
    states: list[BedState] = [block_state(b, spec) for b in blocks]
    run_min = max(1, math.ceil(spec.min_continuous_s / BLOCK_S - 1e-9))
    i = 0
    while i < len(raw):
        j = i
        while j < len(raw) and raw[j] == "bed:continuous":
            j += 1
        if j - i < run_min:
            states[i:j] = ["speech-like"] * (j - i)
        i = j + 1 if j == i else j
    return states


def missing_stretches(
    blocks: Sequence[BedBlock], spec: MusicBedSpec, end_s: float
) -> list[tuple[Segment, set[BedState]]]:
    """Runs of blocks without a bed, at least ``spec.missing_min_s`` long, with what they hold."""
    runs: list[tuple[Segment, set[BedState]]] = []
    for block, state in zip(blocks, block_states(blocks, spec), strict=True):
        block_end = min(end_s, block.t + BLOCK_S) if end_s > block.t else block.t + BLOCK_S
        if state == "bed":
            continue
        if runs and abs(runs[-1][0].end_s - block.t) < 1e-6:
            segment, states = runs[-1]
            runs[-1] = (Segment(segment.start_s, block_end), states | {state})
        else:
            runs.append((Segment(block.t, block_end), {state}))
    return [(s, states) for s, states in runs if s.duration_s >= spec.missing_min_s]


def check_music_bed(ctx: Context) -> Outcome:
    """Every track whose role needs a bed carries music or effects, without long gaps."""
    spec = ctx.profile.music_bed
    roles = judged_roles(spec)
    views = [v for v in track_views(ctx) if v.spec is not None and v.spec.role in roles]
    if not views:
        return result((), f"No track has a role that needs a music bed ({', '.join(roles)})")
    findings: list[Finding] = []
    oks: list[str] = []
    for view in views:
        blocks = view.audio.bed_blocks if view.audio is not None else ()
        if not blocks:
            oks.append(view.says("music bed not measured"))
            continue
        found, ok = _judge(ctx, view, blocks, spec)
        findings += found
        oks += [ok] if ok else []
    return result(capped(ctx, findings, MAX_FINDINGS, "stretches without a bed"), "; ".join(oks))


def _judge(
    ctx: Context, view: TrackView, blocks: Sequence[BedBlock], spec: MusicBedSpec
) -> tuple[list[Finding], str]:
    states = block_states(blocks, spec)
    share = {s: states.count(s) / len(states) for s in ("bed", "speech-like", "silent")}
    if share["bed"] < spec.min_bed_share:
        held = ", ".join(f"{_pct(share[s])} {s}" for s in ("speech-like", "silent") if share[s])
        message = f"no music or effects bed ({held}): dialogue only, or an empty track"
        return [ctx.finding(view.says(message))], ""
    end_s = view.audio.analysed_duration_s if view.audio is not None else 0.0
    found = [
        ctx.at(segment, view.says(f"no music or effects bed for {_stretch(segment, states)}"))
        for segment, states in missing_stretches(blocks, spec, end_s)
    ]
    return found, view.says(f"music or effects bed on {_pct(share['bed'])} of the track")


def _stretch(segment: Segment, states: set[BedState]) -> str:
    held = " and ".join(sorted(states))
    return f"{seconds(segment.duration_s)} from {segment.start_s:.2f} s ({held})"


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"
