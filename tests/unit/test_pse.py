"""Flash / PSE screening: the rule on synthetic cell frames, the check, the graph branch."""

from __future__ import annotations

import io
from array import array
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kickflow.checks import run_check
from kickflow.engine import options_for
from kickflow.media.graph import AnalysisOptions, build_plan
from kickflow.media.pse import (
    GRID,
    FlashRun,
    PseAnalysis,
    PseFollower,
    PseOptions,
    analyse_pse,
    read_pse,
)
from kickflow.profiles import load_profile
from tests.unit.test_checks import clean

FPS = 25.0
COLS, ROWS = GRID
FULL = 65535
PEAK = 200.0
# A cell's (r, g, b) in linear light, 0..65535, for a frame number and a cell (column, row).
Picture = Callable[[int, int, int], tuple[int, int, int]]


def grey(cd_m2: float) -> tuple[int, int, int]:
    v = round(cd_m2 / PEAK * FULL)
    return v, v, v


def raw(picture: Picture, frames: int) -> io.BytesIO:
    values = array("H")
    for n in range(frames):
        for row in range(ROWS):
            for col in range(COLS):
                values.extend(picture(n, col, row))
    return io.BytesIO(values.tobytes())


def square(hz: float, n: int) -> bool:
    """A square wave of ``hz`` flashes per second (one flash = one on/off period) at frame n."""
    return (n / FPS * hz) % 1 < 0.5


def flashing(hz: float, on: tuple[int, int, int], off: tuple[int, int, int]) -> Picture:
    return lambda n, col, row: on if square(hz, n) else off


def screen(picture: Picture, seconds: float = 4.0, **options: Any) -> PseAnalysis:
    return analyse_pse(raw(picture, int(seconds * FPS)), FPS, PseOptions(**options))


WHITE, BLACK = grey(200), grey(0)
RED = (FULL, 0, 0)


@pytest.mark.parametrize(("hz", "fails"), [(2, False), (3, False), (4, True), (10, True)])
def test_full_screen_white_flashes_fail_above_three_per_second(hz: float, fails: bool) -> None:
    result = screen(flashing(hz, WHITE, BLACK))
    assert bool(result.luminance_runs) is fails
    assert result.max_luminance_flashes_per_s == hz
    if fails:
        run = result.luminance_runs[0]
        assert run.flashes == hz and run.area == 1.0
        assert run.start_s < 0.5 and run.end_s > 3.5


def quarter(hz: float, extra_rows: float = 0.0) -> Picture:
    """The top-left quarter flashes. The grid has 9 rows: row 4 is half covered, and cells
    are linear-light averages, so it changes half as much (what the scaler hands over)."""
    rows = 4.5 + extra_rows

    def picture(n: int, col: int, row: int) -> tuple[int, int, int]:
        cover = 0.0 if col >= COLS // 2 else max(0.0, min(1.0, rows - row))
        return grey(200 * cover) if square(hz, n) else BLACK

    return picture


@pytest.mark.parametrize("hz", [4, 10])
def test_quarter_screen_flashes_pass_the_area_rule(hz: float) -> None:
    assert screen(quarter(hz)).luminance_runs == ()


def test_a_little_more_than_a_quarter_fails() -> None:
    runs = screen(quarter(4, extra_rows=1.0)).luminance_runs
    assert runs and runs[0].area == pytest.approx(0.31, abs=0.01)


def test_flashes_between_bright_levels_are_not_flashes() -> None:
    # The darker side must be below 160 cd/m²: 170 <-> 200 does not count.
    assert screen(flashing(10, grey(200), grey(170))).luminance_runs == ()


def test_changes_under_twenty_cd_m2_are_not_flashes() -> None:
    assert screen(flashing(10, grey(60), grey(45))).luminance_runs == ()
    assert screen(flashing(10, grey(60), grey(39))).luminance_runs != ()


def test_thresholds_come_from_the_options() -> None:
    assert screen(flashing(4, WHITE, BLACK), max_flashes=4).luminance_runs == ()
    assert screen(flashing(3, WHITE, BLACK), max_flashes=2).luminance_runs != ()


def test_a_gradual_fade_counts_once_it_reaches_the_threshold() -> None:
    # 0 -> 200 cd/m² over 4 frames, back over 4: a 3.1 Hz triangle, no failure;
    # at 1 frame per step (6.25 Hz) it fails.
    def ramp(step_frames: int) -> Picture:
        def picture(n: int, col: int, row: int) -> tuple[int, int, int]:
            phase = n % (2 * step_frames)
            level = phase if phase <= step_frames else 2 * step_frames - phase
            return grey(200 * level / step_frames)

        return picture

    assert screen(ramp(4)).luminance_runs == ()
    assert screen(ramp(2)).luminance_runs != ()


def test_single_saturated_red_frame_is_found_at_its_frame() -> None:
    result = screen(lambda n, col, row: RED if n == 30 else BLACK)
    assert result.red_flash_times_s == (30 / FPS,)
    assert result.red_runs == ()


def test_red_flashing_fails_the_red_rule_and_white_is_not_red() -> None:
    red = screen(flashing(4, RED, BLACK))
    assert red.red_runs and red.red_runs[0].flashes == 4
    white = screen(flashing(4, WHITE, BLACK))
    assert white.red_runs == () and white.red_flash_times_s == ()


def test_unsaturated_red_is_not_red() -> None:
    pinkish = (FULL, FULL // 3, FULL // 3)  # R / (R + G + B) = 0.6
    assert screen(flashing(10, pinkish, BLACK)).red_runs == ()


def test_red_rule_can_be_turned_off() -> None:
    assert screen(flashing(4, RED, BLACK), red_rule=False).red_runs == ()


def test_a_static_picture_has_nothing() -> None:
    result = screen(lambda n, col, row: grey(col * 10 + row), seconds=2)
    assert result.frames_analysed == 50
    assert result == PseAnalysis(50, FPS, GRID)


def test_a_truncated_last_frame_is_ignored() -> None:
    data = raw(flashing(2, WHITE, BLACK), 10).getvalue()[:-7]
    assert analyse_pse(io.BytesIO(data), FPS, PseOptions()).frames_analysed == 9


# The check ---------------------------------------------------------------------------------


def test_check_reports_runs_as_the_profile_severity_and_labels_a_screener() -> None:
    pse = PseAnalysis(
        100, FPS, GRID, luminance_runs=(FlashRun(0.16, 3.92, 4, 1.0),), red_flash_times_s=(5.0,)
    )
    r = run_check("video.pse", replace(clean(), pse=pse), load_profile("ebu-r128"))
    assert r.status == "failed"
    first, red = r.findings
    assert first.severity == "error" and (first.start_s, first.end_s) == (0.16, 3.92)
    assert first.message.startswith("PSE screening (not a certified Harding test): 4 flashes")
    assert "100% of the screen" in first.message
    assert red.severity == "warning" and red.start_s == 5.0 and "saturated-red" in red.message


def test_check_passes_a_screened_clean_file() -> None:
    r = run_check("video.pse", clean(), load_profile("ebu-r128"))
    assert r.status == "passed" and "not a certified Harding test" in r.summary


def test_check_skips_when_the_profile_does_not_screen() -> None:
    r = run_check("video.pse", replace(clean(), pse=None), load_profile("web"))
    assert r.status == "skipped" and "off" in r.summary


# Profile and graph -----------------------------------------------------------------------------


def test_broadcast_profiles_screen_and_web_does_not() -> None:
    assert options_for(load_profile("ebu-r128")).pse == PseOptions()
    assert options_for(load_profile("atsc-a85")).pse is not None
    assert options_for(load_profile("web")).pse is None


def test_severity_off_removes_the_branch() -> None:
    base = load_profile("ebu-r128")
    off = base.model_copy(update={"severity": {**base.severity, "video.pse": "off"}})
    assert options_for(off).pse is None


def test_graph_gets_an_every_frame_branch_with_its_own_output(tmp_path: Path) -> None:
    media = clean().media
    plain = build_plan(media, Path("/x.mp4"), tmp_path, AnalysisOptions(), frozenset())
    assert plain.pse_file is None and "rawvideo" not in plain.args
    plan = build_plan(
        media, Path("/x.mp4"), tmp_path, AnalysisOptions(pse=PseOptions()), frozenset()
    )
    graph = plan.args[plan.args.index("-filter_complex") + 1]
    pse_part = next(p for p in graph.split(";") if p.endswith("[o_pse]"))
    assert "fps=" not in pse_part and "select" not in pse_part  # every frame
    # sampled on the lattice (no arithmetic), then averaged
    assert pse_part.startswith(f"[0:{media.video[0].index}]scale=256:144:flags=neighbor,")
    assert "scale=128:72:flags=area" in pse_part
    assert f"scale={COLS}:{ROWS}" in pse_part
    tail = plan.args[plan.args.index("[o_pse]") - 1 :]
    assert tail == [
        "-map", "[o_pse]", "-fps_mode", "passthrough", "-f", "rawvideo", f"file:{plan.pse_file}"
    ]  # fmt: skip
    # The statistics' picture is a raw output of its own (its levels), not a null output.
    assert plan.picture_pad == "[o_video]" and "null" not in plan.args


def test_a_follower_screens_a_growing_file_as_a_reader_of_the_whole_file_does(
    tmp_path: Path,
) -> None:
    """The run writes the cells while the follower screens them: a follower that catches up
    with the writer (here in mid-frame) waits for more instead of ending, and its screening
    is the finished file's."""
    data = raw(flashing(4, WHITE, BLACK), 100).getvalue()
    cells = tmp_path / "pse.rgb48"
    follower = PseFollower(cells, FPS, PseOptions())
    with cells.open("wb") as out:  # created after the follower started: it waits for it
        out.write(data[: len(data) // 2 + 7])
        out.flush()
        out.write(data[len(data) // 2 + 7 :])
    follower.written(complete=True)
    followed = follower.result()
    assert followed == read_pse(cells, FPS, PseOptions())
    assert followed is not None and followed.frames_analysed == 100
    assert followed.luminance_runs  # 4 flashes a second fail


def test_a_follower_of_a_failed_run_or_an_unwritten_file_has_no_screening(
    tmp_path: Path,
) -> None:
    never = PseFollower(tmp_path / "never.rgb48", FPS, PseOptions())
    never.written(complete=True)
    assert never.result() is None
    cells = tmp_path / "pse.rgb48"
    cells.write_bytes(raw(flashing(4, WHITE, BLACK), 10).getvalue())
    failed = PseFollower(cells, FPS, PseOptions())
    failed.written(complete=False)
    assert failed.result() is None
