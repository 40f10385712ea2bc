"""Geometry of the Operations page's two charts, drawn by the template as inline SVG (no chart
library, nothing for the browser to fetch): jobs finished per hour (stacked by outcome) and the
failure rate per hour. Pure functions of :class:`~kickflow.jobs.HourlyOutcomes`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from kickflow.jobs import HourlyOutcomes

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 32  # room for the axes' labels
STACK = (("completed", "bar-completed"), ("failed", "bar-failed"), ("cancelled", "bar-cancelled"))


@dataclass(frozen=True)
class Rect:
    """One bar segment; ``title`` is its tooltip (and what a screen reader hears)."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Tick:
    """One labelled position on an axis (``pos`` in SVG units along that axis)."""

    pos: float
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Chart:
    """Everything the template draws: the plot area, marks, axis ticks and a summary."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    bars: list[Rect]
    line: str  # SVG path data ("" for none)
    dots: list[Dot]
    summary: str


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above ``value`` (at least 1): a round axis top."""
    step = 1.0
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def hour_label(start: float) -> str:
    return time.strftime("%H:00", time.gmtime(start))


def _frame(hours: Sequence[HourlyOutcomes]) -> tuple[float, float, float]:
    """(slot width, plot height, plot bottom y) of a chart with one slot per hour."""
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(hours))
    return slot, HEIGHT - TOP - BOTTOM, HEIGHT - BOTTOM


def _x_ticks(hours: Sequence[HourlyOutcomes], slot: float) -> list[Tick]:
    every = max(1, len(hours) // 8)  # about eight labels, whatever the window
    return [
        Tick(LEFT + slot * (i + 0.5), hour_label(h.start))
        for i, h in enumerate(hours)
        if (len(hours) - 1 - i) % every == 0
    ]


def _y_ticks(top: float, step: float, plot: float, fmt: str) -> list[Tick]:
    """Ticks every ``step`` from 0 to ``top`` (a multiple of ``step``)."""
    count = round(top / step)
    return [
        Tick(HEIGHT - BOTTOM - plot * i / count, fmt.format(step * i)) for i in range(count + 1)
    ]


def count_axis(largest: int) -> tuple[int, int]:
    """(top, step) of an axis of whole counts: at most about five ticks, each a whole number."""
    step = int(nice_ceiling(largest / 4))
    return max(step, -(-largest // step) * step), step


def _chart(
    hours: Sequence[HourlyOutcomes],
    y_ticks: list[Tick],
    summary: str,
    *,
    bars: Sequence[Rect] = (),
    line: str = "",
    dots: Sequence[Dot] = (),
) -> Chart:
    slot, _, _ = _frame(hours)
    return Chart(
        WIDTH, HEIGHT, LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM, _x_ticks(hours, slot),
        y_ticks, list(bars), line, list(dots), summary,
    )  # fmt: skip


def throughput_chart(hours: Sequence[HourlyOutcomes]) -> Chart:
    """Stacked bars: completed, failed and cancelled jobs per hour."""
    slot, plot, floor = _frame(hours)
    top, step = count_axis(max((h.finished for h in hours), default=0))
    bars: list[Rect] = []
    for i, h in enumerate(hours):
        y = floor
        for outcome, css in STACK:
            n = int(getattr(h, outcome))
            if n:
                tall = plot * n / top
                y -= tall
                title = f"{hour_label(h.start)}: {n} {outcome}"
                bars.append(Rect(LEFT + slot * i + slot * 0.15, y, slot * 0.7, tall, css, title))
    total = sum(h.finished for h in hours)
    failed = sum(h.failed for h in hours)
    jobs = "1 job" if total == 1 else f"{total} jobs"
    summary = f"{jobs} finished in the last {len(hours)} hours, {failed} of them failed."
    return _chart(hours, _y_ticks(top, step, plot, "{:g}"), summary, bars=bars)


def failure_rate_chart(hours: Sequence[HourlyOutcomes]) -> Chart:
    """The share of failed jobs among those that ran to an end, per hour (a gap where no job
    ended), on a fixed 0-100 % axis."""
    slot, plot, floor = _frame(hours)
    dots: list[Dot] = []
    path: list[str] = []
    pen_down = False
    for i, h in enumerate(hours):
        rate = h.failure_rate
        if rate is None:
            pen_down = False
            continue
        x, y = LEFT + slot * (i + 0.5), floor - plot * rate
        path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
        title = f"{hour_label(h.start)}: {rate:.0%} of {h.completed + h.failed} failed"
        dots.append(Dot(x, y, title))
    ran = sum(h.completed + h.failed for h in hours)
    failed = sum(h.failed for h in hours)
    summary = (
        f"{failed / ran:.0%} of the {ran} jobs that ran to an end failed."
        if ran
        else "No job ran to an end in this window."
    )
    ticks = _y_ticks(100, 25, plot, "{:g} %")
    return _chart(hours, ticks, summary, line=" ".join(path), dots=dots)
