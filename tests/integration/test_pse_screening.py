"""Flash / PSE screening through the real FFmpeg branch, on generated flashing sequences."""

from __future__ import annotations

from pathlib import Path

import pytest

from kickflow.checks import run_check
from kickflow.media.graph import AnalysisOptions
from kickflow.media.pse import PseAnalysis, PseOptions
from kickflow.profiles import load_profile
from tests.fixtures_media import MediaFactory
from tests.integration.engine_helpers import measure_file

FPS = 25
SECONDS = 3
QUARTER = "*lt(X\\,W/2)*lt(Y\\,H/2)"


def flashing_clip(make_media: MediaFactory, name: str, r: str, g: str, b: str) -> Path:
    """A 320x180 25 fps H.264 clip whose RGB planes follow geq expressions of time."""
    picture = (
        f"color=black:s=320x180:r={FPS}:d={SECONDS},format=rgb24,"
        f"geq=r='{r}':g='{g}':b='{b}',format=yuv420p"
    )
    args = ["-f", "lavfi", "-i", picture, "-c:v", "libx264", "-crf", "12", "-g", "25"]
    return make_media(f"pse-{name}.mp4", args)


def square(hz: int, area: str) -> str:
    return f"255*lt(mod(T*{hz}\\,1)\\,0.5){area}"


def screened(path: Path) -> PseAnalysis:
    pse = measure_file(path, AnalysisOptions(pse=PseOptions())).pse
    assert pse is not None
    assert pse.frames_analysed == FPS * SECONDS  # every frame, not the 5 fps sample
    return pse


CASES = [
    # (colour, area, flashes per second, luminance fails, red fails)
    ("white", "full", 2, False, False),
    ("white", "full", 3, False, False),
    ("white", "full", 4, True, False),
    ("white", "full", 10, True, False),
    ("white", "quarter", 4, False, False),
    ("white", "quarter", 10, False, False),
    ("red", "full", 2, False, False),
    ("red", "full", 3, False, False),
    ("red", "full", 4, True, True),
    ("red", "full", 10, True, True),
    ("red", "quarter", 10, False, False),
]


@pytest.mark.parametrize(
    ("colour", "area", "hz", "luminance_fails", "red_fails"),
    CASES,
    ids=[f"{c}-{a}-{hz}" for c, a, hz, _, _ in CASES],
)
def test_flashing_sequences(
    make_media: MediaFactory,
    colour: str,
    area: str,
    hz: int,
    luminance_fails: bool,
    red_fails: bool,
) -> None:
    on = square(hz, QUARTER if area == "quarter" else "")
    green_blue = on if colour == "white" else "0"
    pse = screened(flashing_clip(make_media, f"{colour}-{area}-{hz}", on, green_blue, green_blue))
    assert bool(pse.luminance_runs) is luminance_fails, pse
    assert bool(pse.red_runs) is red_fails, pse
    if area == "full":
        assert pse.max_luminance_flashes_per_s == hz
    if colour == "white":
        assert pse.red_flash_times_s == ()


def test_single_saturated_red_frame_is_found_at_its_frame(make_media: MediaFactory) -> None:
    path = flashing_clip(make_media, "red-frame-40", "255*eq(N\\,40)", "0", "0")
    pse = screened(path)
    assert pse.red_flash_times_s == (40 / FPS,)
    assert pse.luminance_runs == () and pse.red_runs == ()


def test_check_fails_a_strobe_with_the_screener_label(make_media: MediaFactory) -> None:
    on = square(10, "")
    m = measure_file(
        flashing_clip(make_media, "white-full-10", on, on, on), AnalysisOptions(pse=PseOptions())
    )
    r = run_check("video.pse", m, load_profile("ebu-r128"))
    assert r.status == "failed"
    assert r.findings[0].message.startswith("PSE screening (not a certified Harding test)")
    assert r.findings[0].start_s is not None and r.findings[0].start_s < 0.2
