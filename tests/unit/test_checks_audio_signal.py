"""DC offset, undeclared layouts and per-plane levels messages, on hand-built measurements."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kickflow.checks import run_check
from kickflow.errors import ProfileError
from kickflow.media.model import LevelSample
from kickflow.profiles import load_profile
from kickflow.profiles.loader import load_profile_text
from tests.unit.test_checks import AUDIO_STREAM, check, clean, with_audio, with_media, with_video


def test_dc_offset_above_the_profile_maximum_names_the_channel() -> None:
    result = check("audio.dc_offset", with_audio(clean(), dc_offset=(0.002, -0.0989)))
    assert result.status == "failed"
    assert [f.message for f in result.findings] == [
        "Channel 2: DC offset -0.0989 (9.89% of full scale, −20.1 dBFS); "
        "max 0.01 (1.00% of full scale, −40.0 dBFS)"
    ]
    assert check("audio.dc_offset", with_audio(clean(), dc_offset=(0.009, -0.009))).findings == []


def test_dc_offset_limit_comes_from_the_profile() -> None:
    profile = load_profile("ebu-r128")
    limit = profile.dc_offset.model_copy(update={"max_abs": 0.001})
    strict = profile.model_copy(update={"dc_offset": limit})
    m = with_audio(clean(), dc_offset=(0.002, 0.0))
    assert run_check("audio.dc_offset", m, strict).status == "failed"
    assert run_check("audio.dc_offset", m, profile).status == "passed"


def test_unmasked_multichannel_stream_is_a_format_finding() -> None:
    stream = replace(AUDIO_STREAM, channels=6, layout="6 channels")
    result = check("audio.format", with_media(clean(), audio=(stream,)))
    assert any("layout not declared; assumed 5.1" in f.message for f in result.findings)
    masked = replace(AUDIO_STREAM, channels=6, layout="5.1")
    assert check("audio.format", with_media(clean(), audio=(masked,))).findings == []


def test_a_profile_layout_must_be_a_known_name() -> None:
    text = 'name = "x"\n[loudness]\ntarget_lufs = -23.0\nmax_true_peak_dbtp = -1.0\n'
    good = load_profile_text(text + '[audio]\nchannel_layout = "5.1"\n', "x")
    assert good.audio.channel_layout == "5.1"
    with pytest.raises(ProfileError, match="channel_layout"):
        load_profile_text(text + '[audio]\nchannel_layout = "5.7"\n', "x")


def test_levels_message_names_the_chroma_plane_and_bit_depth() -> None:
    legal = LevelSample(0.0, 0.0, 64, 940, 64, 960, 64, 960)
    bad = LevelSample(0.2, 0.3, 119, 846, 62, 960, 70, 900)
    video = with_video(clean(), bit_depth=10, levels=(legal, bad, replace(bad, t=0.4)))
    message = check("video.levels", video).findings[0].message
    assert message.endswith("; Cb 62–960 outside 64–960 (10-bit)")
    eight_bit = LevelSample(0.2, 0.3, 10, 235, 16, 240, 16, 240)
    message = check("video.levels", with_video(clean(), levels=(eight_bit,))).findings[0].message
    assert message.endswith("; Y 10–235 outside 16–235 (8-bit)")
