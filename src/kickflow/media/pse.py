"""Flash / PSE screening (ITU-R BT.1702, Ofcom) of every frame, on a tiny linear-light picture.

A screener, not a certified Harding test. The filter branch reduces each frame to a grid of
cells (16x9 by default), averaged in *linear* light, and writes the cells as 16-bit RGB raw
frames (864 bytes a frame, ~78 MB per hour at 25 fps, in the run's work directory), so every
frame can be looked at cheaply. The reduction samples the picture on a regular 256x144 lattice
(every 7.5th pixel each way of a 1080p frame: 256 samples a cell), averages the samples to
128x72 in gamma space, expands that from its BT.1886 gamma of 2.4 and averages down to the
grid. Sampling instead of averaging every pixel cuts the branch's cost to a third (averaging all
of a 1080p frame cost a fifth of its decode); a flash covers a large part of the screen, which
the samples measure alike (only a pattern as fine as the lattice, the regular-pattern rule's
domain, could slip between them). Fewer samples would be cheaper still, but a cell's mean over
moving fine texture gets noisy: for texture whose samples spread by 100 cd/m² (one standard
deviation), the mean of 64 samples moves by about 18 cd/m² between frames (√2 · 100 / 8), close
to the 20 cd/m² of a transition; the mean of 256 moves by 9.

Per cell, a luminance series (cd/m², a display of ``peak_cd_m2``) is cut into transitions: a
change of at least ``min_change_cd_m2`` between a running extreme and the current value, the
darker side below ``max_dark_cd_m2``. A frame-level transition is a direction in which more than
``max_area`` of the screen changed together (this frame or the previous one; a cell counts in
proportion to its change, see :func:`flashing_area`). A flash is a pair of
opposing frame-level transitions; more than ``max_flashes`` flashes in any 1 s window fails.
The red rule runs the same machinery on the saturated-red measure of WCAG 2.x:
``(R - G - B) * 320`` in linear light, where ``R / (R + G + B) >= 0.8`` (else 0).

Not done: the regular-pattern rule (spatial stripes) needs the full picture, not a grid of
averages, so it is left out rather than guessed at. Frame times are ``frame / frame_rate``:
for variable-frame-rate sources they are approximate.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kickflow.media.growing import Readable, following

GRID = (16, 9)
LATTICE = (256, 144)  # the samples taken of every frame (point sampling: no arithmetic)
PRE_SIZE = (128, 72)  # the samples averaged in gamma space first, cheaply; then linear to the grid
GAMMA = 2.4  # BT.1886 with a zero black level
SATURATED_RED = 0.8  # R / (R + G + B) in linear light (WCAG 2.x)
RED_SCALE = 320.0  # WCAG's (R - G - B) * 320 puts the red measure on a cd/m²-like scale
MAX_LISTED_TIMES = 200
_FULL = 65535.0


@dataclass(frozen=True)
class PseOptions:
    """The rule's numbers (ITU-R BT.1702 / Ofcom defaults); the profile may change them."""

    peak_cd_m2: float = 200.0
    min_change_cd_m2: float = 20.0
    max_dark_cd_m2: float = 160.0
    max_flashes: int = 3  # per any 1 s window; more fails
    max_area: float = 0.25  # share of the screen; flashing over more than this counts
    red_rule: bool = True


@dataclass(frozen=True)
class FlashRun:
    """A stretch where some 1 s window holds more flashes than allowed."""

    start_s: float
    end_s: float
    flashes: int  # the most flashes found in one 1 s window of the run
    area: float  # the largest share of the screen that changed together


@dataclass(frozen=True)
class PseAnalysis:
    frames_analysed: int
    frame_rate: float
    grid: tuple[int, int]
    luminance_flashes: int = 0  # flashes (pairs of transitions) over the area limit
    red_flashes: int = 0
    max_luminance_flashes_per_s: int = 0
    max_red_flashes_per_s: int = 0
    luminance_runs: tuple[FlashRun, ...] = ()  # over max_flashes: a failure
    red_runs: tuple[FlashRun, ...] = ()
    red_flash_times_s: tuple[float, ...] = ()  # start of each saturated-red flash (capped)


def small_picture() -> str:
    """Every frame reduced to :data:`PRE_SIZE` from its :data:`LATTICE` samples (shared with
    the shot-change branch)."""
    (lw, lh), (pw, ph) = LATTICE, PRE_SIZE
    return f"scale={lw}:{lh}:flags=neighbor,scale={pw}:{ph}:flags=area"


def cells_chain(grid: tuple[int, int] = GRID) -> str:
    """After :func:`small_picture`: linear light, averaged down to the grid of cells."""
    expand = f"'pow(val/65535\\,{GAMMA})*65535'"
    cols, rows = grid
    return (
        f"format=rgb48le,lutrgb=r={expand}:g={expand}:b={expand},"
        f"scale={cols}:{rows}:flags=area,format=rgb48le"
    )


def pse_chain(grid: tuple[int, int] = GRID) -> str:
    """The filter chain (on its own use of the video stream) turning frames into cells."""
    return f"{small_picture()},{cells_chain(grid)}"


def output_args(label: str, file: Path) -> list[str]:
    """A second output of the one FFmpeg run: the cells as raw frames, one per decoded frame."""
    return ["-map", label, "-fps_mode", "passthrough", "-f", "rawvideo", f"file:{file}"]


@dataclass
class _Cells:
    """Per-cell transition state for one measure: the running extreme and the last direction."""

    threshold: float
    dark_limit: float
    hi: list[float]
    lo: list[float]
    direction: list[int]

    @classmethod
    def of(cls, count: int, threshold: float, dark_limit: float) -> _Cells:
        return cls(threshold, dark_limit, [-1.0] * count, [-1.0] * count, [0] * count)

    def step(self, values: list[float]) -> tuple[list[float], list[float]]:
        """Feed one frame; the sizes of the up and the down transitions cells completed."""
        th, dark = self.threshold, self.dark_limit
        hi, lo, direction = self.hi, self.lo, self.direction
        ups: list[float] = []
        downs: list[float] = []
        for c, v in enumerate(values):
            d = direction[c]
            if d > 0:  # rose last: hi is the running peak
                if v > hi[c]:
                    hi[c] = v
                elif hi[c] - v >= th and v < dark:
                    downs.append(hi[c] - v)
                    direction[c], lo[c] = -1, v
            elif d < 0:  # fell last: lo is the running trough
                if v < lo[c]:
                    lo[c] = v
                elif v - lo[c] >= th and lo[c] < dark:
                    ups.append(v - lo[c])
                    direction[c], hi[c] = 1, v
            elif hi[c] < 0:
                hi[c] = lo[c] = v
            elif v - lo[c] >= th and lo[c] < dark:
                ups.append(v - lo[c])
                direction[c], hi[c] = 1, v
            elif hi[c] - v >= th and v < dark:
                downs.append(hi[c] - v)
                direction[c], lo[c] = -1, v
            elif v > hi[c]:
                hi[c] = v
            elif v < lo[c]:
                lo[c] = v
        return ups, downs


def flashing_area(sizes: list[float], count: int) -> float:
    """The share of the screen behind these transitions.

    Cells are linear-light averages, so a cell that the flashing object covers by half changes
    by half as much: each cell counts in proportion to its change against the largest one.
    """
    if not sizes:
        return 0.0
    largest = max(sizes)
    # Whole percent: a grid-aligned quarter of the screen is 25 %, not 25.0001 %.
    return round(min(1.0, sum(size / largest for size in sizes) / count), 2)


@dataclass
class _Screen:
    """Frame-level transitions: a direction in which more than ``max_area`` changed together."""

    cells: _Cells
    count: int
    max_area: float
    last: int = 0
    previous: tuple[list[float], list[float]] = ([], [])

    def __post_init__(self) -> None:
        self.events: list[tuple[int, int, float]] = []  # (frame, direction, area)

    def step(self, frame: int, values: list[float]) -> None:
        ups, downs = self.cells.step(values)
        area_up = flashing_area(ups + self.previous[0], self.count)
        area_down = flashing_area(downs + self.previous[1], self.count)
        self.previous = (ups, downs)
        options = []
        if self.last != 1 and area_up > self.max_area:
            options.append((area_up, 1))
        if self.last != -1 and area_down > self.max_area:
            options.append((area_down, -1))
        if options:
            area, direction = max(options)
            self.events.append((frame, direction, area))
            self.last = direction


def cell_measures(
    frame: array[int], peak_cd_m2: float, red_rule: bool
) -> tuple[list[float], list[float]]:
    """Luminance (cd/m²) and the saturated-red measure of every cell of one raw frame."""
    reds, greens, blues = frame[0::3], frame[1::3], frame[2::3]
    kr, kg, kb = (k * peak_cd_m2 / _FULL for k in (0.2126, 0.7152, 0.0722))
    lum = [kr * r + kg * g + kb * b for r, g, b in zip(reds, greens, blues, strict=True)]
    if not red_rule:
        return lum, []
    # R / (R + G + B) >= s  <=>  R >= s / (1 - s) * (G + B): 4 (G + B) for WCAG's 0.8
    k, factor = RED_SCALE / _FULL, round(SATURATED_RED / (1 - SATURATED_RED), 9)
    red = [
        (r - g - b) * k if r >= factor * (g + b) else 0.0
        for r, g, b in zip(reds, greens, blues, strict=True)
    ]
    return lum, red


def frame_bytes(cells: int) -> int:
    """The size of one raw frame of ``cells`` cells (rgb48le: 6 bytes a cell)."""
    return cells * 6


def raw_frames(stream: Readable, cells: int, chunk_frames: int = 256) -> Iterator[array[int]]:
    """Each frame of an rgb48le raw stream as an array of 3 x ``cells`` 16-bit values."""
    size = frame_bytes(cells)
    while block := stream.read(size * chunk_frames):
        values = array("H")
        values.frombytes(block[: len(block) - len(block) % size])
        for start in range(0, len(values), cells * 3):
            yield values[start : start + cells * 3]


def transition_windows(
    events: list[tuple[int, int, float]], fps: float, max_flashes: int
) -> tuple[int, list[FlashRun]]:
    """The most flashes in any 1 s window, and the merged windows holding too many."""
    most = 0
    runs: list[FlashRun] = []
    j = 0
    for i, (start, _, _) in enumerate(events):
        j = max(j, i)
        while j + 1 < len(events) and events[j + 1][0] - start < fps - 1e-9:
            j += 1
        flashes = (j - i + 1) // 2
        most = max(most, flashes)
        if flashes <= max_flashes:
            continue
        area = max(e[2] for e in events[i : j + 1])
        begin, end = start / fps, (events[j][0] + 1) / fps
        if runs and begin <= runs[-1].end_s:
            last = runs[-1]
            runs[-1] = FlashRun(
                last.start_s, max(end, last.end_s), max(flashes, last.flashes), max(area, last.area)
            )
        else:
            runs.append(FlashRun(begin, end, flashes, area))
    return most, [FlashRun(round(r.start_s, 3), round(r.end_s, 3), r.flashes, round(r.area, 3))
                  for r in runs]  # fmt: skip


def flash_starts(events: list[tuple[int, int, float]], fps: float) -> list[float]:
    """Times of flashes: pairs of opposing transitions less than 1 s apart."""
    starts: list[float] = []
    i = 0
    while i + 1 < len(events):
        (a, da, _), (b, db, _) = events[i], events[i + 1]
        if da != db and b - a < fps:
            starts.append(round(a / fps, 3))
            i += 2
        else:
            i += 1
    return starts


def analyse_pse(
    stream: Readable, fps: float, options: PseOptions, grid: tuple[int, int] = GRID
) -> PseAnalysis:
    """Screen a raw stream of cell frames (what :func:`pse_chain` writes) for flashes."""
    count = grid[0] * grid[1]
    o = options
    lum = _Screen(_Cells.of(count, o.min_change_cd_m2, o.max_dark_cd_m2), count, o.max_area)
    red = _Screen(_Cells.of(count, o.min_change_cd_m2, float("inf")), count, o.max_area)
    frames = 0
    previous: bytes = b""
    red_was_zero = False
    for frame in raw_frames(stream, count):
        current = frame.tobytes()
        if current == previous:  # an unchanged cell changes no state: skip the arithmetic
            lum.step(frames, [])
            red.step(frames, [])
        else:
            lum_values, red_values = cell_measures(frame, o.peak_cd_m2, o.red_rule)
            lum.step(frames, lum_values)
            red_is_zero = not any(red_values)
            red.step(frames, [] if red_is_zero and red_was_zero else red_values)
            red_was_zero = red_is_zero
        previous = current
        frames += 1
    return _summary(frames, fps, grid, o, lum.events, red.events)


def _summary(
    frames: int,
    fps: float,
    grid: tuple[int, int],
    o: PseOptions,
    lum: list[tuple[int, int, float]],
    red: list[tuple[int, int, float]],
) -> PseAnalysis:
    lum_most, lum_runs = transition_windows(lum, fps, o.max_flashes)
    red_most, red_runs = transition_windows(red, fps, o.max_flashes)
    lum_flashes, red_flashes = flash_starts(lum, fps), flash_starts(red, fps)
    return PseAnalysis(
        frames_analysed=frames,
        frame_rate=round(fps, 3),
        grid=grid,
        luminance_flashes=len(lum_flashes),
        red_flashes=len(red_flashes),
        max_luminance_flashes_per_s=lum_most,
        max_red_flashes_per_s=red_most,
        luminance_runs=tuple(lum_runs),
        red_runs=tuple(red_runs),
        red_flash_times_s=tuple(red_flashes[:MAX_LISTED_TIMES]),
    )


def read_pse(file: Path, fps: float, options: PseOptions) -> PseAnalysis | None:
    """The screening of a finished run's raw output (None when the branch wrote nothing)."""
    if not file.exists():
        return None
    with file.open("rb") as stream:
        return analyse_pse(stream, fps, options)


class PseFollower:
    """Screens the cells on a thread while the run writes them, so that the screening is done
    (or nearly) when the decode is: it was the longest step after FFmpeg (0.2 s a minute)."""

    def __init__(self, file: Path, fps: float, options: PseOptions) -> None:
        self._written = threading.Event()
        self._stop = threading.Event()
        self._result: PseAnalysis | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(
            target=self._screen, args=(file, fps, options), name="pse-follower", daemon=True
        )
        self._thread.start()

    def _screen(self, file: Path, fps: float, options: PseOptions) -> None:
        try:
            unit = frame_bytes(GRID[0] * GRID[1])
            with following(file, self._written, self._stop, unit) as stream:
                if stream is not None:
                    self._result = analyse_pse(stream, fps, options)
        except Exception as exc:  # handed to the caller of result()
            self._error = exc

    def written(self, *, complete: bool) -> None:
        """The run has ended; if it did not complete, the screening is abandoned."""
        if not complete:
            self._stop.set()
        self._written.set()

    def result(self) -> PseAnalysis | None:
        """The screening of everything written (None when the branch wrote nothing)."""
        self._written.set()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return None if self._stop.is_set() else self._result
