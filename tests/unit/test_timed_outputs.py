"""The analysis plan's timed-text and speech outputs, and the readers of what they write."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kickflow.media.analysis import SPEECH_BATCH, Steps, _embedded_subtitles, _listen, steps_of
from kickflow.media.graph import AnalysisOptions, Plan, build_plan
from kickflow.media.model import AudioStream, MediaInfo, SubtitleStream, TrackSpeech, VideoStream
from kickflow.media.pse import PseOptions
from kickflow.media.timed_outputs import SubtitleOutput, dialogue_mix, pad_start, read_shots


def _video() -> VideoStream:
    return VideoStream(0, "h264", None, 1920, 1080, 25.0, 25.0, False, "progressive",
                       "yuv420p", 8, None, None, None, None, 0.0, 10.0)  # fmt: skip


def _audio(index: int, channels: int = 2, layout: str | None = "stereo") -> AudioStream:
    return AudioStream(index, "aac", 48000, channels, layout, 0.0, 10.0)


SUBS = (
    SubtitleStream(3, "mov_text", True, "eng"),
    SubtitleStream(4, "hdmv_pgs_subtitle", False, "fre"),
    SubtitleStream(5, "ass", True),
)
MEDIA = MediaInfo(
    "x.mp4", 1, "mp4", 10.0, None, (_video(),), (_audio(1), _audio(2, 6, "5.1")),
    subtitle_streams=3, subtitles=SUBS,
)  # fmt: skip


def plan_for(tmp_path: Path, **options: Any) -> Plan:
    return build_plan(MEDIA, Path("/x.mp4"), tmp_path, AnalysisOptions(**options), frozenset())


def graphs(plan: Plan) -> list[str]:
    return [plan.args[i + 1] for i, a in enumerate(plan.args) if a == "-filter_complex"]


def test_nothing_extra_unless_asked(tmp_path: Path) -> None:
    plan = plan_for(tmp_path)
    assert plan.shots_file is None and not plan.speech_files and not plan.subtitle_files
    joined = " ".join(plan.args)
    assert "scdet" not in joined and "s16le" not in joined and "-c:s" not in joined


def test_speech_tracks_get_their_own_16k_output(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, speech_tracks=(2, 1, 9))
    assert plan.speech_files == {1: tmp_path / "speech_1.s16", 2: tmp_path / "speech_2.s16"}
    speech = [g for g in graphs(plan) if "o_speech" in g]
    assert speech == [
        "[0:1]pan=mono|c0=0.5*c0+0.5*c1,aresample=16000,"
        "aformat=sample_fmts=s16:channel_layouts=mono[o_speech1]",
        "[0:2]pan=mono|c0<c2+0.5*c0+0.5*c1,aresample=16000,"
        "aformat=sample_fmts=s16:channel_layouts=mono[o_speech2]",
    ]
    at = plan.args.index("[o_speech2]")
    assert plan.args[at + 1 : at + 10] == [
        "-c:a", "pcm_s16le", "-ar", "16000", "-ac", "1", "-f", "s16le",
        f"file:{tmp_path / 'speech_2.s16'}",
    ]  # fmt: skip
    assert "null" not in plan.args  # every meter's output is raw: levels, picture, speech


@pytest.mark.parametrize(
    ("channels", "layout", "mix"),
    [
        (1, "mono", "pan=mono|c0=c0"),
        (6, "6 channels", "pan=mono|c0<c2+0.5*c0+0.5*c1"),
        (8, "7.1", "pan=mono|c0<c2+0.5*c0+0.5*c1"),
        (4, "quad", "pan=mono|c0<c0+c1+c2+c3"),
    ],
)
def test_dialogue_mix_favours_the_centre(channels: int, layout: str, mix: str) -> None:
    assert dialogue_mix(_audio(1, channels, layout)) == mix


def test_shot_changes_share_the_pse_downscale(tmp_path: Path) -> None:
    alone = graphs(plan_for(tmp_path, shot_changes=True))[0]
    small = "[0:0]scale=256:144:flags=neighbor,scale=128:72:flags=area"
    assert f"{small},format=gray,scdet=threshold=10," in alone
    assert "key=lavfi.scd.time" in alone and alone.count("scale=256:144") == 1
    shared = graphs(plan_for(tmp_path, shot_changes=True, pse=PseOptions()))[0]
    assert shared.count("scale=256:144") == 1  # one full-size scale feeds both
    assert "split=2[pse_small][shots_small]" in shared
    assert shared.count("[o_pse]") == 1 and shared.count("[o_shots]") == 1
    args = plan_for(tmp_path, shot_changes=True, pse=PseOptions()).args
    assert args.index("[o_shots]") < args.index("null") < args.index("[o_pse]")


def test_only_readable_text_streams_are_written_by_a_demux_only_run(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, subtitle_streams=True)
    assert [(o.stream.index, o.file.name, o.format_hint) for o in plan.subtitle_files] == [
        (3, "sub_3.srt", "srt"),
        (5, "sub_5.ass", "ass"),
    ]
    assert "-c:s" not in plan.args  # not in the analysis run: FFmpeg can stall it for good
    run = plan.subtitle_args
    guarded_input = plan.args[plan.args.index("-protocol_whitelist") : plan.args.index("-i") + 2]
    assert run[: run.index("-i") + 2] == guarded_input
    assert " ".join(run[run.index("-i") + 2 :]) == (
        "-map 0:0 -c copy -f null - "  # packets copied, nothing decoded: a progress clock
        f"-map 0:3 -c:s srt -f srt file:{tmp_path / 'sub_3.srt'} "
        f"-map 0:5 -c:s copy -f ass file:{tmp_path / 'sub_5.ass'}"
    )
    assert plan_for(tmp_path).subtitle_args == []


def test_cuts_read_from_scdet_output(tmp_path: Path) -> None:
    file = tmp_path / "shots.txt"
    file.write_text(
        "frame:75   pts:38400   pts_time:3\nlavfi.scd.time=3\n"
        "frame:130  pts:66560   pts_time:5.2\nlavfi.scd.time=5.2\n"
    )
    assert read_shots(file) == (3.0, 5.2)
    assert read_shots(tmp_path / "missing.txt") == ()


def test_progress_after_ffmpeg_moves_to_one(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, speech_tracks=(1, 2), subtitle_streams=True)
    # The end/first track, two tracks, the video and PSE, the subtitle run and its two files,
    # the speech batches.
    assert steps_of(plan) == 1 + 2 + 2 + 3 + -(-2 // SPEECH_BATCH)
    seen: list[float] = []
    steps = Steps(seen.append, 4)
    steps.within(0.5)
    for _ in range(5):
        steps.step()
    assert seen == pytest.approx([0.95625, 0.9625, 0.975, 0.9875, 1.0, 1.0])


def test_speech_is_heard_two_tracks_at_a_time(tmp_path: Path) -> None:
    calls: list[tuple[list[int], float]] = []

    def run(files: Mapping[int, Path], end_s: float) -> tuple[TrackSpeech, ...]:
        calls.append((sorted(files), end_s))
        return tuple(TrackSpeech(p) for p in sorted(files, reverse=True))

    files = {p: tmp_path / f"speech_{p}.s16" for p in (3, 1, 2)}
    seen: list[float] = []
    heard = _listen(MEDIA, files, 12.5, run, Steps(seen.append, 2))
    assert calls == [([1, 2], 12.5), ([3], 12.5)]
    assert [t.position for t in heard] == [1, 2, 3] and seen == pytest.approx([0.975, 1.0])
    assert _listen(MEDIA, files, 12.5, None, Steps(None, 0)) == ()


def test_a_stream_ffmpeg_could_not_write_is_reported_not_read(tmp_path: Path) -> None:
    out = SubtitleOutput(SUBS[0], tmp_path / "sub_3.srt", "srt", failed=True)
    (found,) = _embedded_subtitles((out,), Steps(None, 0))
    assert found.stream_index == 3 and found.language == "eng" and not found.cues
    assert found.error == (
        "stream #3 (mov_text) could not be read: FFmpeg could not convert it to text."
    )


def test_a_late_track_is_padded_to_start_at_programme_zero(tmp_path: Path) -> None:
    pcm = tmp_path / "speech_1.s16"
    pcm.write_bytes(b"\x01\x00\x02\x00")
    pad_start(pcm, 0.5)
    assert pcm.read_bytes() == bytes(2 * 8000) + b"\x01\x00\x02\x00"
    pad_start(pcm, 0.0)
    assert len(pcm.read_bytes()) == 2 * 8000 + 4


@pytest.mark.parametrize(
    ("profile", "sidecars", "shots"),
    [
        ("timed-text", True, True),  # a shot-change rule and subtitles to hold to it
        ("timed-text", False, True),  # the file's own text streams are held to it too
        ("ebu-r128", True, False),  # subtitles, but no rule that uses cuts
    ],
)
def test_cuts_are_measured_only_when_a_rule_uses_them(
    profile: str, sidecars: bool, shots: bool
) -> None:
    from kickflow.engine import timed_options
    from kickflow.profiles import load_profile

    chosen = timed_options(AnalysisOptions(), load_profile(profile), MEDIA, sidecars=sidecars)
    assert chosen.shot_changes is shots
    bare = MediaInfo("x.mp4", 1, "mp4", 10.0, None, (_video(),), (_audio(1),))
    alone = timed_options(AnalysisOptions(), load_profile(profile), bare, sidecars=False)
    assert alone.shot_changes is False  # no subtitles at all: nothing to time against cuts
