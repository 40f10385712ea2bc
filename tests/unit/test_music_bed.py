"""``audio.music_bed`` on hand-made block statistics: the block rules, continuity, findings."""

from __future__ import annotations

import pytest

from kickflow.checks import run_check
from kickflow.checks.music_bed import (
    block_state,
    block_states,
    missing_stretches,
)
from kickflow.errors import ProfileError
from kickflow.media.metadata import parse_metadata_print
from kickflow.media.model import (
    AudioAnalysis,
    AudioStream,
    AudioTrack,
    BedBlock,
    Loudness,
    Measurements,
    MediaInfo,
)
from kickflow.media.music import bed_blocks, chain
from kickflow.profiles import Profile, load_profile, load_profile_text
from kickflow.profiles.model import TrackSpec
from kickflow.profiles.music_spec import MusicBedSpec, bed_track_positions

SPEC = MusicBedSpec()
MUSIC = BedBlock(0.0, floor_dbfs=-30.0, median_dbfs=-26.0, top_dbfs=-20.0,
                 active_share=1.0, noise_share=0.03)  # fmt: skip
SPEECH = BedBlock(0.0, floor_dbfs=None, median_dbfs=-27.0, top_dbfs=-18.0,
                  active_share=0.9, noise_share=0.14)  # fmt: skip
EFFECTS = BedBlock(0.0, floor_dbfs=None, median_dbfs=-60.0, top_dbfs=-25.0,
                   active_share=0.4, noise_share=0.95)  # fmt: skip
SILENT = BedBlock(0.0, floor_dbfs=None, median_dbfs=None, top_dbfs=None,
                  active_share=0.0, noise_share=0.0)  # fmt: skip


def at(block: BedBlock, t: float) -> BedBlock:
    return BedBlock(t, block.floor_dbfs, block.median_dbfs, block.top_dbfs,
                    block.active_share, block.noise_share)  # fmt: skip


def blocks(*kinds: BedBlock) -> tuple[BedBlock, ...]:
    return tuple(at(b, 3.0 * i) for i, b in enumerate(kinds))


def test_block_rules() -> None:
    assert block_state(MUSIC, SPEC) == "bed"
    assert block_state(SPEECH, SPEC) == "speech-like"
    assert block_state(EFFECTS, SPEC) == "bed"
    assert block_state(SILENT, SPEC) == "silent"
    # Speech over room tone: the floor is up but 35 dB under the median; a bed too quiet.
    toned = BedBlock(0.0, -62.0, -27.0, -18.0, 0.9, 0.1)
    assert block_state(toned, SPEC) == "speech-like"
    quiet_bed = BedBlock(0.0, -53.0, -49.0, -45.0, 0.3, 0.0)
    assert block_state(quiet_bed, SPEC) == "speech-like"
    assert block_state(quiet_bed, MusicBedSpec(min_floor_dbfs=-55.0)) == "bed"


def test_a_floor_held_for_one_block_is_not_a_bed() -> None:
    # One phrase of speech without a pause holds the floor for a block; a bed carries on.
    assert block_states(blocks(SPEECH, MUSIC, SPEECH), SPEC) == ["speech-like"] * 3
    assert block_states(blocks(SPEECH, MUSIC, MUSIC), SPEC) == ["speech-like", "bed", "bed"]
    # Effects count at once: a door slam needs no continuity.
    assert block_states(blocks(SILENT, EFFECTS, SILENT), SPEC) == ["silent", "bed", "silent"]


def test_missing_stretches_are_merged_and_closed_at_the_end() -> None:
    found = missing_stretches(blocks(*[MUSIC] * 3, *[SPEECH] * 8, *[SILENT] * 3), SPEC, 40.0)
    assert [(s.start_s, s.end_s, sorted(states)) for s, states in found] == [
        (9.0, 40.0, ["silent", "speech-like"])
    ]
    assert missing_stretches(blocks(*[MUSIC] * 3, *[SPEECH] * 9), SPEC, 36.0) == []


def _measured(*kinds: BedBlock) -> Measurements:
    stream = AudioStream(1, "aac", 48000, 2, "stereo", 0.0, 3.0 * len(kinds))
    analysis = AudioAnalysis(1, 2, analysed_duration_s=3.0 * len(kinds), bed_blocks=blocks(*kinds))
    loud = Loudness(None, None, None, None)
    media = MediaInfo("x.wav", 1, "wav", 3.0 * len(kinds), None, audio=(stream,))
    return Measurements(
        media, loud, analysis, audio_tracks=(AudioTrack(1, stream, loud, analysis),)
    )


def _with_role(role: str, **music: object) -> Profile:
    base = load_profile("ebu-r128")
    audio = base.audio.model_copy(update={"tracks": (TrackSpec(role=role, loudness=False),)})
    spec = MusicBedSpec.model_validate(music)
    return base.model_copy(update={"audio": audio, "music_bed": spec})


def test_an_me_track_of_speech_only_fails_as_a_whole() -> None:
    result = run_check("audio.music_bed", _measured(*[SPEECH] * 9, SILENT), _with_role("me"))
    assert result.status == "failed"
    [finding] = result.findings
    assert finding.start_s is None
    assert finding.message == (
        "Track 1 (stereo): no music or effects bed (90% speech-like, 10% silent): dialogue only, "
        "or an empty track"
    )


def test_a_long_stretch_without_a_bed_is_timecoded() -> None:
    m = _measured(*[MUSIC] * 4, *[SPEECH] * 11, *[MUSIC] * 4)
    result = run_check("audio.music_bed", m, _with_role("me"))
    assert result.status == "failed"
    [finding] = result.findings
    assert (finding.start_s, finding.end_s) == (12.0, 45.0)
    assert "no music or effects bed for 33.0 s from 12.00 s (speech-like)" in finding.message
    passed = run_check("audio.music_bed", _measured(*[MUSIC] * 8), _with_role("me"))
    assert passed.status == "passed"
    assert passed.summary == "Track 1 (stereo): music or effects bed on 100% of the track"


def test_roles_decide_which_tracks_are_judged() -> None:
    m = _measured(*[SPEECH] * 4)
    for profile in (_with_role("dialogue"), load_profile("ebu-r128")):
        unjudged = run_check("audio.music_bed", m, profile)
        assert (unjudged.status, unjudged.findings) == ("passed", [])
        assert unjudged.summary == "No track has a role that needs a music bed (me)"
    assert run_check("audio.music_bed", m, _with_role("mix", roles=("mix",))).status == "failed"


def test_the_branch_runs_only_on_judged_tracks() -> None:
    assert bed_track_positions(load_profile("dubbing")) == (3,)
    assert bed_track_positions(load_profile("discrete-mono")) == (7, 8)
    assert bed_track_positions(load_profile("ebu-r128")) == ()
    mix = _with_role("mix", roles=("mix",))
    assert bed_track_positions(mix) == (1,)
    off = mix.model_copy(update={"severity": {"audio.music_bed": "off"}})
    assert bed_track_positions(off) == ()
    assert load_profile("dubbing").severity_of("audio.music_bed") == "error"


MUSIC_BRANCH = "".join(
    f"frame:{i} pts:{i * 400} pts_time:{i * 0.025}\n"
    f"lavfi.aspectralstats.1.flatness={0.9 if i % 4 == 0 else 0.1}\n"
    f"lavfi.astats.1.RMS_level={'-inf' if i % 10 == 0 else -20 - i % 5}\n"
    for i in range(160)
)


def test_branch_windows_become_blocks() -> None:
    found = bed_blocks(parse_metadata_print(MUSIC_BRANCH))
    assert [b.t for b in found] == [0.0, 3.0]
    first = found[0]
    assert first.floor_dbfs is None  # every tenth window is digital silence
    assert first.median_dbfs == -22.0 and first.top_dbfs == -20.0
    assert first.active_share == pytest.approx(0.9)
    # Every fourth window is flat: 30 of 120, 6 of them silent (not active) → 24 of 108.
    assert first.noise_share == pytest.approx(24 / 108, abs=0.001)


def test_an_unknown_role_names_the_key() -> None:
    text = 'extends = "ebu-r128"\n[music_bed]\nroles = ["music"]\n'
    with pytest.raises(ProfileError, match=r"music_bed\.roles has 'music'; use mix, dialogue"):
        load_profile_text(text, "x")
    loaded = load_profile_text('extends = "ebu-r128"\n[music_bed]\nroles = ["mix"]\n', "x")
    assert loaded.music_bed.roles == ("mix",)


def test_wide_streams_are_averaged_not_rematrixed() -> None:
    # FFmpeg cannot rematrix 9+ unnamed channels to mono; the branch averages them itself.
    assert chain(6).startswith("aformat=channel_layouts=mono,aresample=16000,")
    wide = chain(64)
    assert wide.startswith("pan=mono|c0=0.015625*c0+0.015625*c1+")
    assert wide.count("*c") == 64
