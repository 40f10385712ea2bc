"""Every audio track measured in the one decode and judged against the profile's track layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kickflow import engine
from kickflow.media.graph import AnalysisOptions
from kickflow.profiles import load_profile
from kickflow.report import Report, build_report, render_html, render_text
from tests.fixtures_media import MediaFactory
from tests.integration.engine_helpers import measure_file

SECONDS = 12
# A 1 kHz sine at A (linear) in both channels of a stereo pair reads 20·log10(A) LUFS (EBU 3341);
# sin/cos keep the channels different (no mono-as-stereo) with the same loudness.
DUB = "aevalsrc=0.0595662*sin(2*PI*1000*t)|0.0595662*cos(2*PI*1000*t):s=48000"  # -24.5 LUFS
# 5.1 with a silent centre (and LFE): L, R, Ls, Rs at -15.8 dBFS ⇒ about -12 LUFS (11 LU too loud).
MIX51 = (
    "aevalsrc=0.1622*sin(2*PI*1000*t)|0.1622*cos(2*PI*1000*t)|0|0"
    "|0.1622*sin(2*PI*1000*t+1)|0.1622*cos(2*PI*1000*t+1):s=48000:c=5.1"
)
SILENT_ME = "anullsrc=r=48000:cl=stereo"


def _inputs(*sources: str) -> list[str]:
    args: list[str] = []
    for source in sources:
        args += ["-f", "lavfi", "-i", f"{source}:d={SECONDS}"]
    for i in range(len(sources)):
        args += ["-map", str(i)]
    return [*args, "-c:a", "flac"]


def _tags(*tags: tuple[str | None, str | None]) -> list[str]:
    args: list[str] = []
    for i, (language, title) in enumerate(tags):
        if language:
            args += [f"-metadata:s:a:{i}", f"language={language}"]
        if title:
            args += [f"-metadata:s:a:{i}", f"title={title}"]
    return args


@pytest.fixture(scope="module")
def delivery(make_media: MediaFactory) -> Path:
    """Stereo dub at -24.5 LUFS, 5.1 mix ~11 LU too loud with a dead centre, silent M&E."""
    tags = _tags(("fra", "Dub FR"), ("fra", "Mix 5.1"), (None, "M&E"))
    return make_media("delivery.mkv", [*_inputs(DUB, MIX51, SILENT_ME), *tags])


def _report(path: Path, profile: str = "dubbing") -> Report:
    m = measure_file(path)
    return build_report(m, load_profile(profile), input_name=path.name, size_bytes=1)


def test_every_track_is_measured_and_judged(delivery: Path) -> None:
    report = _report(delivery)
    messages = [f.message for f in report.findings if f.check.startswith("audio.")]
    loud = [msg for msg in messages if "Integrated loudness" in msg or "silent:" in msg]
    assert loud[0].startswith("Track 1 (stereo, fra, “Dub FR”): Integrated loudness -24.5 LUFS")
    assert "1.5 LU below" in loud[0]
    assert loud[1].startswith("Track 2 (5.1, fra, “Mix 5.1”): Integrated loudness -12.")
    assert "11.0 LU above" in loud[1] or "10.9 LU above" in loud[1] or "11.1 LU above" in loud[1]
    assert loud[2] == (
        "Track 3 (stereo, “M&E”): The track is silent: its loudness is below the -70 LUFS gate"
    )
    dead = [msg for msg in messages if "silent for" in msg]
    # The dead centre is found; the silent LFE is not a finding (ignore_lfe).
    assert dead == [
        "Track 2 (5.1, fra, “Mix 5.1”): Channel 3 (C) is silent for 100% of the programme"
    ]
    assert not [f for f in report.findings if f.check == "audio.layout"]


def test_report_has_a_section_per_track(delivery: Path) -> None:
    d = json.loads(json.dumps(_report(delivery).to_dict()))
    assert d["schema_version"] == 3
    tracks = d["audio_tracks"]
    assert [(t["position"], t["channels"], t["layout"], t["role"]) for t in tracks] == [
        (1, 2, "stereo", "dialogue"),
        (2, 6, "5.1", "mix"),
        (3, 2, "stereo", "me"),
    ]
    assert [(t["language"], t["title"]) for t in tracks] == [
        ("fra", "Dub FR"),
        ("fra", "Mix 5.1"),
        (None, "M&E"),
    ]
    assert tracks[2]["loudness"]["integrated_lufs"] is None
    assert tracks[1]["audio"]["channel_silence"][0]["channel"] == 3
    # Version-1 readers: the old single-track fields are track 1's.
    assert d["loudness"] == tracks[0]["loudness"]
    assert d["measurements"]["audio"] == tracks[0]["audio"]
    again = Report.from_dict(d)
    assert [t.loudness for t in again.measurements.audio_tracks] == [
        t.loudness for t in _report(delivery).measurements.audio_tracks
    ]
    text = render_text(d)
    assert "Track 2:   flac 48000 Hz 5.1 (6 ch), fra, “Mix 5.1” — mix — -12." in text
    assert (
        "<tr><th>Track 3</th><td>flac 48000 Hz stereo (2 ch), “M&amp;E” — me — below"
        in render_html(d)
    )


@pytest.mark.parametrize(("position", "source"), [(1, DUB), (2, MIX51)])
def test_track_loudness_equals_a_single_track_measurement(
    delivery: Path, make_media: MediaFactory, position: int, source: str
) -> None:
    alone = make_media(f"alone-{position}.mkv", _inputs(source))
    single = measure_file(alone).loudness
    track = measure_file(delivery).audio_tracks[position - 1].loudness
    assert single is not None and single.integrated_lufs is not None
    assert track.integrated_lufs is not None
    assert abs(track.integrated_lufs - single.integrated_lufs) <= 0.1
    assert track.true_peak_dbtp == single.true_peak_dbtp


def test_a_misordered_delivery_is_a_layout_finding(make_media: MediaFactory) -> None:
    swapped = make_media("swapped.mkv", _inputs(MIX51, DUB, SILENT_ME))
    report = _report(swapped)
    layout = [f.message for f in report.findings if f.check == "audio.layout"]
    assert layout == [
        "Track 1 (5.1) is in the wrong place: it fits layout track 2 (5.1 mix), but track 1 "
        "should be stereo dialogue",
        "Track 2 (stereo) is in the wrong place: it fits layout track 1 (stereo dialogue), but "
        "track 2 should be 5.1 mix",
    ]
    assert report.verdict == "failed"  # a finding, not an error: the report is complete


def test_many_streams_are_analysed_up_to_the_cap(make_media: MediaFactory) -> None:
    tones = [f"sine=f={200 + 20 * i}:sample_rate=48000" for i in range(64)]
    many = make_media("many.mkv", _inputs(*tones))
    m = measure_file(many, AnalysisOptions(max_audio_tracks=16))
    assert len(m.audio_tracks) == 16 and m.unanalysed_audio == 48
    report = build_report(m, load_profile("dubbing"), input_name="many.mkv", size_bytes=1)
    layout = [f.message for f in report.findings if f.check == "audio.layout"]
    assert layout[0] == (
        "Tracks 17–64 were not analysed: the analysis covers the first 16 audio tracks of a file"
    )


def test_a_64_channel_stream_is_analysed(make_media: MediaFactory) -> None:
    waves = "|".join(f"0.05*sin(2*PI*{200 + 20 * c}*t)" for c in range(64))
    wide = make_media("wide.wav", ["-f", "lavfi", "-i", f"aevalsrc={waves}:s=48000:d=4"])
    m = measure_file(wide)
    assert m.audio is not None and m.audio.channels == 64
    assert m.loudness is not None and m.loudness.integrated_lufs is not None
    report = build_report(m, load_profile("dubbing"), input_name="wide.wav", size_bytes=1)
    layout = [f.message for f in report.findings if f.check == "audio.layout"]
    assert layout[0] == "Track 1 (64 channels): the layout expects stereo dialogue here"


SPEAKERS = [  # L R C LFE Ls Rs of a 5.1 programme, each a different tone
    "0.1*sin(2*PI*500*t)",
    "0.1*sin(2*PI*700*t)",
    "0.08*sin(2*PI*900*t)",
    "0.05*sin(2*PI*60*t)",
    "0.06*sin(2*PI*1100*t)",
    "0.06*sin(2*PI*1300*t)",
]


def test_discrete_mono_tracks_are_measured_as_one_programme(make_media: MediaFactory) -> None:
    monos = [f"aevalsrc={w}:s=48000" for w in [*SPEAKERS, SPEAKERS[0], SPEAKERS[1]]]
    discrete = make_media("discrete.mkv", _inputs(*monos))
    surround = make_media("surround.mkv", _inputs(f"aevalsrc={'|'.join(SPEAKERS)}:s=48000:c=5.1"))
    reference = measure_file(surround).loudness
    report = build_report(
        measure_file(discrete, engine.options_for(load_profile("discrete-mono"))),
        load_profile("discrete-mono"),
        input_name="discrete.mkv",
        size_bytes=1,
    )
    groups = report.measurements.audio_groups
    assert [(g.name, g.positions, g.layout) for g in groups] == [
        ("5.1 mix", (1, 2, 3, 4, 5, 6), "5.1"),
        ("M&E", (7, 8), "stereo"),
    ]
    assert reference is not None and reference.integrated_lufs is not None
    mix = groups[0].loudness.integrated_lufs
    assert mix is not None and abs(mix - reference.integrated_lufs) <= 0.1
    assert not [f for f in report.findings if f.check == "audio.layout"]
    loudness = next(c for c in report.checks if c.id == "audio.loudness")
    assert (
        "Group “5.1 mix” (5.1, tracks 1, 2, 3, 4, 5, 6): Integrated loudness"
        in "; ".join(f.message for f in loudness.findings)
        or "Group “5.1 mix” (5.1, tracks 1, 2, 3, 4, 5, 6): Integrated loudness" in loudness.summary
    )
    d = json.loads(json.dumps(report.to_dict()))
    assert d["audio_groups"][0]["tracks"] == [1, 2, 3, 4, 5, 6]
    assert Report.from_dict(d).measurements.audio_groups == groups
