"""The analysis plan's raw outputs (each track's samples, the reduced picture) for benchmarks
that run a plan's FFmpeg command without the readers: written to the null device, so that
FFmpeg still converts and writes them as in a real check."""

from __future__ import annotations

import os

from kickflow.media.graph import Plan


def to_null_device(plan: Plan, *, samples: bool = True) -> list[str]:
    """Output arguments for the plan's raw outputs (``samples=False``: the picture only)."""
    args = []
    if samples:
        for pad in plan.level_pads.values():
            args += ["-map", pad, "-c:a", "pcm_f32le", "-f", "f32le", os.devnull]
    if plan.picture_pad is not None:
        args += ["-map", plan.picture_pad, "-fps_mode", "passthrough", "-c:v", "rawvideo",
                 "-f", "rawvideo", os.devnull]  # fmt: skip
    return args
