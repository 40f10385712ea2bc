"""Loudness on EBU Tech 3341 / 3342 test signals generated here (1 kHz stereo sines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_media import MediaFactory
from tests.integration.engine_helpers import measure_file


def _sine_sequence(levels: list[tuple[float, float]]) -> list[str]:
    """aevalsrc arguments for a 1 kHz stereo sine stepping through (dBFS, seconds) pairs."""
    t0 = 0.0
    pieces = []
    for db, seconds in levels:
        amp = 10 ** (db / 20)
        pieces.append((t0, t0 + seconds, amp))
        t0 += seconds
    expr = "+".join(f"{amp:.9f}*between(t\\,{a}\\,{b})*lt(t\\,{b})" for a, b, amp in pieces)
    wave = f"({expr})*sin(2*PI*1000*t)"
    return ["-f", "lavfi", "-i", f"aevalsrc={wave}|{wave}:s=48000:d={t0}", "-c:a", "pcm_s24le"]


TECH_3341 = [
    ("3341-1", [(-23, 20)], -23.0),
    ("3341-2", [(-33, 20)], -33.0),
    ("3341-3", [(-36, 10), (-23, 60), (-36, 10)], -23.0),
    ("3341-4", [(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)], -23.0),
    ("3341-5", [(-26, 20), (-20, 20.1), (-26, 20)], -23.0),
]

TECH_3342 = [
    ("3342-1", [(-20, 20), (-30, 20)], 10.0),
    ("3342-2", [(-20, 20), (-15, 20)], 5.0),
    ("3342-3", [(-40, 20), (-20, 20)], 20.0),
    ("3342-4", [(-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)], 15.0),
]


@pytest.mark.parametrize(("name", "levels", "expected"), TECH_3341, ids=[t[0] for t in TECH_3341])
def test_integrated_loudness_within_a_tenth_of_a_lu(
    make_media: MediaFactory, name: str, levels: list[tuple[float, float]], expected: float
) -> None:
    path: Path = make_media(f"{name}.wav", _sine_sequence(levels))
    loudness = measure_file(path).loudness
    assert loudness is not None and loudness.integrated_lufs is not None
    assert abs(loudness.integrated_lufs - expected) <= 0.1


@pytest.mark.parametrize(("name", "levels", "expected"), TECH_3342, ids=[t[0] for t in TECH_3342])
def test_loudness_range_within_one_lu(
    make_media: MediaFactory, name: str, levels: list[tuple[float, float]], expected: float
) -> None:
    loudness = measure_file(make_media(f"{name}.wav", _sine_sequence(levels))).loudness
    assert loudness is not None and loudness.range_lu is not None
    assert abs(loudness.range_lu - expected) <= 1.0


def test_true_peak_is_converted_to_dbtp(make_media: MediaFactory) -> None:
    loudness = measure_file(make_media("3341-1.wav", _sine_sequence([(-23, 20)]))).loudness
    assert loudness is not None and loudness.true_peak_dbtp is not None
    # The amplitude is the peak: a -23 dBFS sine peaks at about -23 dBTP.
    assert -23.5 <= loudness.true_peak_dbtp <= -22.5
    assert len(loudness.curve) > 100


def test_silence_below_the_gate_has_no_integrated_value(make_media: MediaFactory) -> None:
    path = make_media("silent.wav", ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo:d=5"])
    loudness = measure_file(path).loudness
    assert loudness is not None
    assert loudness.integrated_lufs is None
