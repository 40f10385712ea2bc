"""Track layouts: profile validation, matching streams to the layout, per-track messages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kickflow.checks import run_check
from kickflow.checks.base import Context
from kickflow.checks.tracks import label_problems, layout_problems, track_views
from kickflow.errors import ProfileError
from kickflow.media.model import AudioStream, AudioTrack, Measurements
from kickflow.profiles import load_profile, load_profile_text
from kickflow.profiles.model import TrackSpec
from tests.unit.test_checks import clean


def stream(index: int, layout: str, channels: int, **tags: str) -> AudioStream:
    return AudioStream(index, "aac", 48000, channels, layout, 0.0, 60.0, **tags)  # type: ignore[arg-type]


STEREO, SURROUND = stream(1, "stereo", 2), stream(2, "5.1(side)", 6)
DUBBING = load_profile("dubbing").audio.tracks


def test_layout_errors_name_the_key() -> None:
    text = 'extends = "ebu-r128"\n[[audio.tracks]]\nrole = "music"\n'
    with pytest.raises(ProfileError, match=r"audio\.tracks\.0\.role is 'music'; use mix"):
        load_profile_text(text, "x")
    text = 'extends = "ebu-r128"\n[[audio.tracks]]\nrole = "mix"\nlayout = "5.1"\nchannels = 2\n'
    with pytest.raises(ProfileError, match=r"audio\.tracks\.0 channels = 2 does not fit"):
        load_profile_text(text, "x")
    text = 'extends = "ebu-r128"\n[[audio.tracks]]\nrole = "me"\nchecks = ["video.black"]\n'
    with pytest.raises(ProfileError, match=r"audio\.tracks\.0\.checks has 'video.black'"):
        load_profile_text(text, "x")
    text = 'extends = "ebu-r128"\n[[audio.tracks]]\nrole = "mix"\nlayout = "9.2"\n'
    with pytest.raises(ProfileError, match=r"audio\.tracks\.0\.layout is '9.2'"):
        load_profile_text(text, "x")


def test_shipped_layouts() -> None:
    assert [(t.role, t.layout, t.loudness) for t in DUBBING] == [
        ("dialogue", "stereo", True),
        ("mix", "5.1", True),
        ("me", "stereo", False),
    ]
    mono = load_profile("discrete-mono").audio.tracks
    assert [t.channel for t in mono] == ["L", "R", "C", "LFE", "Ls", "Rs", "L", "R"]
    assert {t.layout for t in mono} == {"mono"}


def test_layout_matches_5_1_side_and_reports_missing_and_extra() -> None:
    me = stream(3, "stereo", 2)
    assert layout_problems(DUBBING, [STEREO, SURROUND, me]) == []
    assert layout_problems(DUBBING, [STEREO, SURROUND]) == [
        "Track 3 (stereo M&E) is missing: the file has 2 audio tracks, the layout 3"
    ]
    assert layout_problems(DUBBING, [STEREO, SURROUND, me, stream(4, "mono", 1)]) == [
        "Track 4 (mono) is not in the layout (3 tracks expected)"
    ]


def test_languages_and_titles_are_compared() -> None:
    layout = (
        TrackSpec(role="language:fr", layout="stereo"),
        TrackSpec(role="me", layout="stereo", title="M&E"),
    )
    good = [stream(1, "stereo", 2, language="fre"), stream(2, "stereo", 2, title="FR M&E")]
    assert label_problems(layout, good) == []
    bad = [stream(1, "stereo", 2, language="deu"), stream(2, "stereo", 2, title="Dub")]
    assert label_problems(layout, bad) == [
        "Track 1 (stereo, deu) is tagged deu; the layout expects fr",
        "Track 2 (stereo, “Dub”): the title does not mention “M&E”",
    ]
    # Language tags tell swapped tracks of the same shape apart.
    swapped = [
        stream(1, "stereo", 2, title="M&E", language="zxx"),
        stream(2, "stereo", 2, language="fra", title="Dub FR"),
    ]
    assert layout_problems(layout, swapped)[0].startswith(
        "Track 1 (stereo, zxx, “M&E”) is in the wrong place"
    )


def _three_tracks() -> Measurements:
    m = clean()
    assert m.loudness is not None and m.audio is not None
    streams = (STEREO, SURROUND, stream(3, "stereo", 2, language="zxx"))
    silent = replace(m.loudness, integrated_lufs=None, true_peak_dbtp=None)
    loud = replace(m.loudness, integrated_lufs=-12.0)
    tracks = (
        AudioTrack(1, streams[0], m.loudness, m.audio),
        AudioTrack(2, streams[1], loud, replace(m.audio, stream_index=2, channels=6)),
        AudioTrack(3, streams[2], silent, replace(m.audio, stream_index=3)),
    )
    return replace(m, media=replace(m.media, audio=streams), audio_tracks=tracks)


def test_each_track_is_judged_by_its_layout_entry() -> None:
    result = run_check("audio.loudness", _three_tracks(), load_profile("dubbing"))
    assert [f.message for f in result.findings] == [
        "Track 2 (5.1(side)): Integrated loudness -12.0 LUFS is 11.0 LU above target -23 LUFS "
        "(−1/+1 LU)",
        "Track 3 (stereo, zxx): The track is silent: its loudness is below the -70 LUFS gate",
    ]
    # Without a layout every track is held to the profile's target, silent or not.
    plain = run_check("audio.loudness", _three_tracks(), load_profile("ebu-r128"))
    assert plain.findings[1].message.startswith(
        "Track 3 (stereo, zxx): Integrated loudness is below"
    )
    # The M&E entry leaves silence runs out: only tracks 1 and 2 are looked at.
    silence = run_check("audio.silence", _three_tracks(), load_profile("dubbing"))
    assert (
        silence.summary.startswith("Track 1 (stereo): No silence")
        and "Track 3" not in silence.summary
    )


def test_one_track_without_a_layout_keeps_plain_messages() -> None:
    m = clean()
    assert m.loudness is not None
    loud = replace(m, loudness=replace(m.loudness, integrated_lufs=-30.0))
    message = run_check("audio.loudness", loud, load_profile("ebu-r128")).findings[0].message
    assert message.startswith("Integrated loudness -30.0 LUFS is 7.0 LU below")


def test_a_layout_entry_only_turns_off_the_checks_it_can_name() -> None:
    views = track_views(Context(_three_tracks(), load_profile("dubbing"), "audio.silence", "error"))
    assert [v.applies("audio.silence") for v in views] == [True, True, False]
    # A check the layout cannot name (added later, e.g. DC offset) applies to every track.
    assert all(v.applies("audio.some_new_check") for v in views)
    assert [v.label for v in views] == [
        "Track 1 (stereo)",
        "Track 2 (5.1(side))",
        "Track 3 (stereo, zxx)",
    ]


def test_group_errors_name_the_key() -> None:
    text = 'extends = "ebu-r128"\n[[audio.groups]]\nname = "mix"\ntracks = [1, 2]\nlayout = "5.1"\n'
    with pytest.raises(ProfileError, match=r"audio\.groups\.0 tracks must name 6 different tracks"):
        load_profile_text(text, "x")
    text = 'extends = "ebu-r128"\n[[audio.groups]]\nname = "mix"\ntracks = [1]\nlayout = "mono"\n'
    assert load_profile_text(text, "x").audio.groups[0].tracks == (1,)
