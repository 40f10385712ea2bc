"""Peaks, DC offset, levels messages and undeclared layouts, measured by the real FFmpeg pass."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from kickflow.checks import run_check
from kickflow.engine import options_for
from kickflow.profiles import Profile, load_profile
from tests.fixtures_media import MediaFactory
from tests.integration.engine_helpers import measure_file

LEVELS_DBFS = [-1.0, -20.0, -40.0, -60.0, -80.0, -90.0]
RIGHT_BELOW_DB = 3.0  # the right channel sits this far below the left: per-channel peaks


def _sine_pair(db: float) -> list[str]:
    """3 s of a 997 Hz stereo sine, left at ``db`` dBFS and right 3 dB lower, 24-bit PCM.

    997 Hz against 48 kHz sweeps every phase, so the sample peak reaches the amplitude too.
    """
    left, right = 10 ** (db / 20), 10 ** ((db - RIGHT_BELOW_DB) / 20)
    wave_of = "{:.12g}*sin(2*PI*997*t)".format
    source = f"aevalsrc={wave_of(left)}|{wave_of(right)}:s=48000:d=3"
    return ["-f", "lavfi", "-i", source, "-c:a", "pcm_s24le"]


@pytest.mark.parametrize("db", LEVELS_DBFS, ids=[f"{d:g}dBFS" for d in LEVELS_DBFS])
def test_true_sample_and_channel_peaks_exact_down_to_minus_90(
    make_media: MediaFactory, db: float
) -> None:
    loud = measure_file(make_media(f"peak{db:g}.wav", _sine_pair(db))).loudness
    assert loud is not None
    tolerance = 0.05
    assert loud.true_peak_dbtp == pytest.approx(db, abs=tolerance)
    assert loud.sample_peak_dbfs == pytest.approx(db, abs=tolerance)
    expected = (db, db - RIGHT_BELOW_DB)
    assert loud.channel_true_peaks_dbtp == pytest.approx(expected, abs=tolerance)
    assert loud.channel_sample_peaks_dbfs == pytest.approx(expected, abs=tolerance)


def test_true_peak_between_samples_at_the_worst_phase(make_media: MediaFactory) -> None:
    """A 12 kHz sine (a quarter of 48 kHz) at 45°: every sample sits 3.01 dB below the wave's
    peak, which only the interpolation finds. It fades in and out over 1 s: a sine that starts
    or stops at full level rings above its peak in any interpolation."""
    source = "aevalsrc=0.5*min(1\\,min(t\\,4-t))*sin(2*PI*12000*t+PI/4):s=48000:d=4"
    path = make_media("quarter-rate-45.wav", ["-f", "lavfi", "-i", source, "-c:a", "pcm_f32le"])
    loud = measure_file(path).loudness
    assert loud is not None
    assert loud.sample_peak_dbfs == pytest.approx(-6.02 - 3.01, abs=0.01)
    assert loud.true_peak_dbtp == pytest.approx(-6.02, abs=0.05)


def test_peak_meter_gain_leaves_integrated_loudness_alone(make_media: MediaFactory) -> None:
    # EBU Tech 3341 case 1: a -23 dBFS 1 kHz stereo sine reads -23.0 LUFS.
    source = "aevalsrc=0.0707946*sin(2*PI*1000*t)|0.0707946*sin(2*PI*1000*t):s=48000:d=20"
    loud = measure_file(make_media("r128-case1.wav", ["-f", "lavfi", "-i", source])).loudness
    assert loud is not None and loud.integrated_lufs is not None
    assert abs(loud.integrated_lufs - -23.0) <= 0.1
    assert loud.true_peak_dbtp == pytest.approx(-23.0, abs=0.05)


def _dc(offset: float) -> list[str]:
    source = f"aevalsrc={offset}+0.2*sin(2*PI*440*t)|0.2*sin(2*PI*660*t):s=48000:d=4"
    return ["-f", "lavfi", "-i", source, "-c:a", "pcm_s24le"]


def test_dc_offset_fails_against_the_profile_and_a_clean_file_passes(
    make_media: MediaFactory,
) -> None:
    profile = load_profile("ebu-r128")
    offset = run_check("audio.dc_offset", measure_file(make_media("dc.wav", _dc(0.1))), profile)
    assert offset.status == "failed"
    assert len(offset.findings) == 1
    assert offset.findings[0].message.startswith("Channel 1: DC offset 0.1 (10.00% of full scale")
    clean = run_check("audio.dc_offset", measure_file(make_media("no-dc.wav", _dc(0.0))), profile)
    assert clean.status == "passed", clean.summary
    assert clean.findings == []


def test_ten_bit_chroma_out_of_range_names_cb_and_cr(make_media: MediaFactory) -> None:
    # Y legal (500), Cb below 64 and Cr above 960 at 10 bits: Y must not be blamed.
    picture = "format=yuv422p10le,lutyuv=y=500:u=40:v=1000"
    args = ["-f", "lavfi", "-i", "color=c=gray:size=320x240:rate=25:d=2", "-vf", picture,
            "-c:v", "ffv1", "-pix_fmt", "yuv422p10le"]  # fmt: skip
    m = measure_file(make_media("chroma10.mkv", args))
    levels = run_check("video.levels", m, load_profile("ebu-r128"))
    assert levels.status == "failed"
    message = levels.findings[0].message
    assert "Cb 40–40 outside 64–960, Cr 1000–1000 outside 64–960 (10-bit)" in message
    assert "Y " not in message


def _unmasked_wav(path: Path, gains: tuple[float, ...]) -> Path:
    """A plain PCM WAV (no WAVE_FORMAT_EXTENSIBLE, so no channel mask): a 440 Hz tone, 2 s."""
    rate, layout = 48000, f"<{len(gains)}h"
    frames = bytearray()
    for i in range(rate * 2):
        value = 0.1 * math.sin(2 * math.pi * 440 * i / rate)
        frames += struct.pack(layout, *(int(32767 * value * g) for g in gains))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(len(gains))
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


def _declaring(layout: str) -> Profile:
    base = load_profile("ebu-r128")
    audio = base.audio.model_copy(update={"channel_layout": layout})
    return base.model_copy(update={"audio": audio})


def test_unmasked_six_channel_wav_is_a_layout_finding(media_dir: Path) -> None:
    path = _unmasked_wav(media_dir / "unmasked6.wav", (1, 0.9, 0.8, 0, 0.6, 0.5))
    m = measure_file(path)
    assert m.media.audio[0].channels == 6
    result = run_check("audio.format", m, load_profile("ebu-r128"))
    messages = [f.message for f in result.findings]
    assert any("6 channels, layout not declared; assumed 5.1" in t for t in messages), messages
    declared = _declaring("5.1")
    again = run_check("audio.format", measure_file(path, options_for(declared)), declared)
    assert again.findings == []


def test_declared_layout_sets_the_loudness_weights(media_dir: Path) -> None:
    # Four equal channels: FFmpeg assumes 4.0 (FL FR FC BC, weights 1 1 1 1.41); declared quad
    # (FL FR BL BR) the third is a surround channel too: 10·log10(4.82 / 4.41) = +0.39 LU.
    path = _unmasked_wav(media_dir / "unmasked4.wav", (1, 1, 1, 1))
    assumed, as_40, as_quad = (
        measure_file(path, options_for(profile)).loudness
        for profile in (load_profile("ebu-r128"), _declaring("4.0"), _declaring("quad"))
    )
    assert assumed is not None and as_40 is not None and as_quad is not None
    assert assumed.integrated_lufs is not None and as_quad.integrated_lufs is not None
    assert as_40.integrated_lufs == assumed.integrated_lufs
    assert as_quad.integrated_lufs - assumed.integrated_lufs == pytest.approx(0.39, abs=0.05)
