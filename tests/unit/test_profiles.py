"""Profiles: the built-ins carry the standards' numbers; invalid files name the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kickflow.errors import ProfileError, ProfileNotFound
from kickflow.profiles import CHECK_IDS, builtin_profile_names, load_profile


def write(tmp_path: Path, text: str, name: str = "my.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


MINIMAL = """
[loudness]
target_lufs = -23
max_true_peak_dbtp = -1
"""


def test_builtin_names() -> None:
    assert builtin_profile_names() == [
        "atsc-a85", "discrete-mono", "dubbing", "ebu-r128", "named-delivery", "streaming",
        "timed-text", "web",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "target", "below", "above", "peak"),
    [
        ("ebu-r128", -23.0, 1.0, 1.0, -1.0),
        ("atsc-a85", -24.0, 2.0, 2.0, -2.0),
        ("streaming", -24.0, 2.0, 2.0, -2.0),
        ("web", -14.0, 1.0, 1.0, -1.0),
    ],
)
def test_builtin_loudness(
    name: str, target: float, below: float, above: float, peak: float
) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.loudness.target_lufs == target
    assert (profile.loudness.tolerance_below_lu, profile.loudness.tolerance_above_lu) == (
        below,
        above,
    )
    assert profile.loudness.max_true_peak_dbtp == peak


def test_default_is_ebu_r128() -> None:
    assert load_profile("default") == load_profile("ebu-r128")


def test_broadcast_profiles_require_video_and_web_does_not() -> None:
    assert load_profile("ebu-r128").video.required
    assert load_profile("atsc-a85").video.required
    assert load_profile("streaming").video.required
    assert not load_profile("web").video.required


def test_streaming_is_1080p_progressive_23976_to_30() -> None:
    video = load_profile("streaming").video
    assert video.resolutions == ("1920x1080",)
    assert video.scan == ("progressive",)
    assert min(video.frame_rates) == pytest.approx(23.976)
    assert max(video.frame_rates) == 30.0


def test_detector_parameters_have_defaults() -> None:
    profile = load_profile("ebu-r128")
    assert profile.video.sample_fps == 5.0
    assert profile.video.frame_accurate is False
    assert profile.detect.black_pixel_threshold == 0.10
    assert profile.detect.silence_threshold_db == -60.0
    assert profile.levels.max_out_of_range == 0.01


def test_every_check_has_a_severity() -> None:
    profile = load_profile("web")
    assert profile.severity_of("video.levels") == "info"
    assert all(profile.severity_of(c) in {"error", "warning", "info", "off"} for c in CHECK_IDS)


def test_unknown_name_lists_builtins() -> None:
    with pytest.raises(ProfileNotFound) as caught:
        load_profile("netflix")
    for name in ["ebu-r128", "atsc-a85", "streaming", "web"]:
        assert name in str(caught.value)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ProfileNotFound, match="does not exist"):
        load_profile(str(tmp_path / "nope.toml"))


def test_custom_file_named_after_its_stem(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, MINIMAL, "house.toml"))
    assert profile.name == "house"
    assert profile.loudness.target_lufs == -23.0
    assert profile.loudness.tolerance_below_lu == 1.0


def test_custom_file_can_extend_a_builtin(tmp_path: Path) -> None:
    text = 'extends = "ebu-r128"\nname = "house"\n[loudness]\ntarget_lufs = -24\n'
    profile = load_profile(write(tmp_path, text))
    assert profile.name == "house"
    assert profile.loudness.target_lufs == -24.0
    assert profile.loudness.max_true_peak_dbtp == -1.0
    assert profile.video.frame_rates == (25.0, 50.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[loudness]\ntarget_lufs = "loud"\nmax_true_peak_dbtp = -1\n',
            "loudness.target_lufs must be a number",
        ),
        ("[loudness]\ntarget_lufs = -23\n", "loudness.max_true_peak_dbtp is required"),
        (MINIMAL + "[video]\nframe_rate = 25\n", "video.frame_rate is not a known key"),
        ("colour = 1\n" + MINIMAL, ": colour is not a known key"),
        (MINIMAL + "[video]\nrequired = 1\n", "video.required must be true or false"),
        (MINIMAL + "[video]\ncodecs = 'h264'\n", "video.codecs must be a list"),
        (MINIMAL + "[video]\nresolutions = ['1920-1080']\n", "video.resolutions has '1920-1080'"),
        (MINIMAL + "[video]\nsample_fps = 0\n", "video.sample_fps must be greater than 0"),
        (
            MINIMAL + "[audio]\nsample_rates = [48000.5]\n",
            "audio.sample_rates.0 must be an integer",
        ),
        (MINIMAL + "[severity]\n'audio.loud' = 'error'\n", "unknown check id 'audio.loud'"),
        (MINIMAL + "[severity]\n'audio.loudness' = 'fatal'\n", "severity.audio.loudness must be"),
        ("video = 3\n" + MINIMAL, ": video must be a table"),
    ],
)
def test_invalid_file_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load_profile(write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(f"profile {tmp_path / 'my.toml'}: ")
    assert expected in message


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(write(tmp_path, "[loudness\n"))


def test_extends_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="extends must be one of"):
        load_profile(write(tmp_path, 'extends = "bbc"\n'))


def test_a_file_extends_a_builtin_that_extends_another(tmp_path: Path) -> None:
    """timed-text extends streaming: a studio's file on top of it gets all three layers."""
    profile = load_profile(write(tmp_path, 'extends = "timed-text"\n[subtitles]\nmax_lines = 3\n'))
    streaming, timed = load_profile("streaming"), load_profile("timed-text")
    assert profile.name == "my"
    assert profile.loudness == streaming.loudness  # from streaming, two levels down
    assert profile.subtitles.shot_change_frames == timed.subtitles.shot_change_frames
    assert profile.subtitles.max_lines == 3 != timed.subtitles.max_lines


def test_profiles_are_immutable() -> None:
    profile = load_profile("web")
    with pytest.raises(ValueError, match="frozen"):
        profile.loudness.target_lufs = -16.0  # type: ignore[misc]


def test_counting_shorter_than_detecting_is_an_error(tmp_path: Path) -> None:
    text = 'extends = "ebu-r128"\n[black]\nmin_s = 0.2\n'
    with pytest.raises(ProfileError, match=r"black.min_s \(0.2\) is shorter than detect"):
        load_profile(write(tmp_path, text))
