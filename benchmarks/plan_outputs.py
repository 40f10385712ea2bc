"""The analysis plan's raw outputs (each track's samples, the reduced picture) for benchmarks
that run a plan's FFmpeg command without the readers: written to the null device, so that
FFmpeg still converts and writes them as in a real check."""

from __future__ import annotations

import os

from kickflow.media import levels, picture
from kickflow.media.graph import Plan


def to_null_device(plan: Plan, *, samples: bool = True) -> list[str]:
    """Output arguments for the plan's raw outputs (``samples=False``: the picture only): the
    real check's, with the null device in place of each pipe."""
    outputs = [levels.output_args(pad, 0) for pad in plan.level_pads.values()] if samples else []
    if plan.picture_pad is not None:
        outputs.append(picture.output_args(plan.picture_pad, 0))
    return [arg for args in outputs for arg in (*args[:-1], os.devnull)]
