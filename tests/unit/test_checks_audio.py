"""Audio checks on hand-built measurements."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kickflow.checks import run_check
from kickflow.media.model import Segment
from kickflow.profiles import load_profile
from tests.unit.test_checks import (
    AUDIO_STREAM,
    DURATION,
    check,
    clean,
    spans,
    with_audio,
    with_loudness,
    with_media,
)


def test_missing_audio_is_an_error_when_required() -> None:
    m = replace(with_media(clean(), audio=()), audio=None, loudness=None)
    result = check("audio.missing", m)
    assert result.status == "failed"
    assert "requires audio" in result.findings[0].message
    assert check("audio.missing", clean()).status == "passed"
    assert check("audio.loudness", m).status == "skipped"
    assert check("audio.loudness", m).summary == "No audio stream"


def test_audio_format_mismatches() -> None:
    stream = replace(AUDIO_STREAM, sample_rate=44100, channels=3, layout="3.0")
    result = check("audio.format", with_media(clean(), audio=(stream,)))
    messages = [f.message for f in result.findings]
    assert len(messages) == 2
    assert "44100 Hz is not one of 48000 Hz" in messages[0]
    assert "3 channels; the profile allows 2, 6" in messages[1]
    assert check("audio.format", with_media(clean(), audio=(stream,)), "web").status == "passed"


@pytest.mark.parametrize(
    ("lufs", "profile", "status"),
    [
        (-23.0, "ebu-r128", "passed"),
        (-22.0, "ebu-r128", "passed"),
        (-21.9, "ebu-r128", "failed"),
        (-24.1, "ebu-r128", "failed"),
        (-26.0, "atsc-a85", "passed"),
        (-26.5, "atsc-a85", "failed"),
        (-14.5, "web", "passed"),
        (-16.0, "web", "failed"),
    ],
)
def test_integrated_loudness_window(lufs: float, profile: str, status: str) -> None:
    assert check(
        "audio.loudness", with_loudness(clean(), integrated_lufs=lufs), profile
    ).status == (status)


def test_loudness_message_says_above_or_below() -> None:
    result = check("audio.loudness", with_loudness(clean(), integrated_lufs=-18.04))
    assert result.findings[0].message == (
        "Integrated loudness -18.0 LUFS is 5.0 LU above target -23 LUFS (−1/+1 LU)"
    )
    assert result.findings[0].start_s is None


def test_below_gate_says_so() -> None:
    m = with_loudness(clean(), integrated_lufs=None, range_lu=None, true_peak_dbtp=None)
    result = check("audio.loudness", m)
    assert result.status == "failed"
    assert "below the -70 LUFS gate" in result.findings[0].message
    assert check("audio.true_peak", m).status == "skipped"


def test_lra_limit_when_profile_sets_one(tmp_path: Path) -> None:
    path = tmp_path / "lra.toml"
    path.write_text('extends = "ebu-r128"\n[loudness]\nmax_lra_lu = 15\n')
    m = with_loudness(clean(), range_lu=18.2)
    result = run_check("audio.loudness", m, load_profile(str(path)))
    assert result.findings[0].message == "Loudness range 18.2 LU exceeds 15 LU"
    assert check("audio.loudness", m).status == "passed"  # R 128 itself does not limit LRA


def test_true_peak() -> None:
    m = with_loudness(clean(), true_peak_dbtp=-0.5, channel_true_peaks_dbtp=(-0.5, -3.0))
    result = check("audio.true_peak", m)
    assert result.status == "failed"
    assert result.findings[0].message == "True peak -0.5 dBTP exceeds -1 dBTP (ch1 -0.5, ch2 -3.0)"
    assert check("audio.true_peak", with_loudness(clean(), true_peak_dbtp=-1.0)).findings == []
    assert check("audio.true_peak", m, "atsc-a85").status == "failed"


def test_silence_head_tail_allowed_mid_programme_found() -> None:
    silence = (Segment(0.0, 3.0), Segment(20.0, 24.0), Segment(30.0, 31.0), Segment(55.0, 60.0))
    result = check("audio.silence", with_audio(clean(), silence=silence))
    assert (result.status, spans(result)) == ("warning", [(20.0, 24.0)])
    assert result.findings[0].message == "Silence for 4.0 s from 20.00 s"


def test_silence_to_the_end_longer_than_tail_allowance() -> None:
    result = check("audio.silence", with_audio(clean(), silence=(Segment(40.0, DURATION),)))
    assert "at the tail" in result.findings[0].message


def test_clipping_runs() -> None:
    clipped = (Segment(12.0, 12.3), Segment(40.0, 40.1))
    m = with_audio(clean(), clipping=clipped, clipped_windows=8)
    result = check("audio.clipping", m)
    assert (result.status, spans(result)) == ("warning", [(12.0, 12.3), (40.0, 40.1)])
    assert check("audio.clipping", m, "streaming").status == "failed"
    assert check("audio.clipping", clean()).summary == "0 of 1200 windows at full scale (max 0)"


def test_dead_channel_over_most_of_the_programme() -> None:
    m = with_audio(clean(), channel_silence=(Segment(0.0, DURATION, channel=2),))
    result = check("audio.channels", m)
    assert result.status == "failed"
    assert result.findings[0].message == "Channel 2 (R) is silent for 100% of the programme"
    assert spans(result) == [(0.0, DURATION)]


def test_dead_channel_long_run() -> None:
    m = with_audio(clean(), channel_silence=(Segment(10.0, 25.0, channel=1),))
    result = check("audio.channels", m)
    assert spans(result) == [(10.0, 25.0)]
    assert result.findings[0].message.startswith("Channel 1 (L) is silent for 15.0 s")


def test_channel_silent_with_the_whole_mix_is_not_dead() -> None:
    both = (Segment(10.0, 30.0, channel=1), Segment(10.0, 30.0, channel=2))
    m = with_audio(clean(), silence=(Segment(10.0, 30.0),), channel_silence=both)
    assert check("audio.channels", m).findings == []


def test_phase_problems() -> None:
    m = with_audio(clean(), phase_mean=-0.7, out_of_phase=(Segment(5.0, 9.0), Segment(20, 20.5)))
    result = check("audio.phase", m)
    assert result.status == "warning"
    assert spans(result) == [(None, None), (5.0, 9.0)]
    assert "mean correlation -0.70" in result.findings[0].message
    mono = check("audio.phase", with_audio(clean(), mono_as_stereo=True))
    assert "mono carried as stereo" in mono.findings[0].message


def test_phase_skipped_on_mono() -> None:
    m = with_audio(clean(), channels=1)
    assert check("audio.phase", m).summary == "Mono audio has no phase to check"


def test_silent_lfe_is_not_a_dead_channel() -> None:
    surround = replace(AUDIO_STREAM, channels=6, layout="5.1(side)")
    m = with_media(clean(), audio=(surround,))
    m = with_audio(m, channels=6, channel_silence=(Segment(0.0, DURATION, channel=4),))
    result = check("audio.channels", m)
    assert result.findings == []
    assert "LFE, channel 4, not checked" in result.summary
    m = with_audio(m, channel_silence=(Segment(0.0, DURATION, channel=3),))
    assert "Channel 3 (C) is silent" in check("audio.channels", m).findings[0].message


def test_mono_as_stereo_is_only_info_for_web() -> None:
    result = check("audio.phase", with_audio(clean(), mono_as_stereo=True), "web")
    assert (result.status, result.findings[0].severity) == ("passed", "info")
