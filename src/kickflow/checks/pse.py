"""Flash / PSE screening (ITU-R BT.1702, Ofcom): findings from the every-frame screener.

A screener, not a certified Harding test: every finding says so. The numbers (flashes per
second, area) come from ``media/pse.py``, parametrised by the profile's ``[pse]`` table.
"""

from __future__ import annotations

from kickflow.checks.base import Context, Finding, FindingSeverity, Outcome, capped, result, skip
from kickflow.media.pse import FlashRun, PseAnalysis

LABEL = "PSE screening (not a certified Harding test)"
MAX_LISTED = 50


def check_pse(ctx: Context) -> Outcome:
    """Flashing over too much of the screen too often; saturated-red flashes."""
    if not ctx.m.media.video:
        return skip("No video stream")
    pse = ctx.m.pse
    if pse is None:
        if not ctx.profile.pse.enabled:
            return skip("Flash screening is off in this profile ([pse] enabled = false)")
        return skip("The video was not screened for flashes")
    found = [_run(ctx, run, "flashes") for run in pse.luminance_runs]
    found += [_run(ctx, run, "saturated-red flashes") for run in pse.red_runs]
    found += _red_flashes(ctx, pse)
    return result(capped(ctx, found, MAX_LISTED, "flash findings"), _ok(ctx, pse))


def _run(ctx: Context, run: FlashRun, what: str) -> Finding:
    spec = ctx.profile.pse
    return ctx.finding(
        f"{LABEL}: {run.flashes} {what} in 1 s over {run.area:.0%} of the screen "
        f"(more than {spec.max_flashes_per_s} over {spec.max_area:.0%} fails), "
        f"{run.start_s:.2f}–{run.end_s:.2f} s",
        run.start_s,
        run.end_s,
    )


def _red_flashes(ctx: Context, pse: PseAnalysis) -> list[Finding]:
    """A saturated-red flash outside a failing run is worth a look even when it is alone."""
    severity: FindingSeverity = "info" if ctx.severity == "info" else "warning"
    frame = 1 / pse.frame_rate if pse.frame_rate else 0.0
    return [
        ctx.finding(
            f"{LABEL}: saturated-red flash at {t:.2f} s over more than "
            f"{ctx.profile.pse.max_area:.0%} of the screen",
            t,
            round(t + frame, 3),
            severity,
        )
        for t in pse.red_flash_times_s
        if not any(r.start_s <= t <= r.end_s for r in pse.red_runs)
    ]


def _ok(ctx: Context, pse: PseAnalysis) -> str:
    spec = ctx.profile.pse
    return (
        f"{LABEL}: no more than {spec.max_flashes_per_s} flashes in any 1 s over more than "
        f"{spec.max_area:.0%} of the screen ({pse.frames_analysed} frames screened, "
        f"at most {pse.max_luminance_flashes_per_s} per second)"
    )
