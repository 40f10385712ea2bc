"""Pure parsers of FFmpeg's metadata and progress output, on saved samples."""

from __future__ import annotations

import io
import queue
from pathlib import Path

import pytest

from kickflow.media.audio import loudness_from
from kickflow.media.graph import AnalysisOptions, analysis_size, build_plan
from kickflow.media.inputs import looks_like_text, sniff_playlist
from kickflow.media.metadata import (
    detector_segments,
    linear_to_db,
    merge_times,
    parse_metadata_print,
    subtract,
)
from kickflow.media.model import AudioStream, MediaInfo, Segment, VideoStream
from kickflow.media.runner import _pump, parse_progress_block, processed_seconds
from kickflow.media.video import freezes_outside_black, interlace_from

EBUR128_SAMPLE = """\
frame:0    pts:0       pts_time:0
lavfi.r128.M=-120.691
lavfi.r128.S=-120.691
lavfi.r128.I=-70.000
lavfi.r128.LRA=0.000
lavfi.r128.true_peaks_ch0=0.097
lavfi.r128.true_peak=0.097
frame:1    pts:4800    pts_time:0.1
lavfi.r128.M=-23.1
lavfi.r128.S=-23.4
lavfi.r128.I=-23.02
lavfi.r128.LRA=3.5
lavfi.r128.true_peaks_ch0=1.05
lavfi.r128.true_peak=1.05
lavfi.r128.sample_peak=0.5
"""


def test_metadata_print_frames_and_values() -> None:
    frames = parse_metadata_print(EBUR128_SAMPLE)
    assert [f.t for f in frames] == [0.0, 0.1]
    assert frames[1].number("lavfi.r128.I") == -23.02
    assert frames[0].number("missing") is None


def test_loudness_uses_last_frame_and_converts_linear_peaks() -> None:
    loud = loudness_from(parse_metadata_print(EBUR128_SAMPLE), channels=1)
    assert loud.integrated_lufs == -23.02
    assert loud.range_lu == 3.5
    assert loud.true_peak_dbtp == pytest.approx(0.42, abs=0.01)  # 1.05 linear
    assert loud.sample_peak_dbfs == pytest.approx(-6.02, abs=0.01)
    assert loud.curve[1].momentary == -23.1


TRUE_PEAKS = """frame:0    pts:0    pts_time:0
lavfi.astats.1.Peak_level=-58.06
lavfi.astats.2.Peak_level=-39.000001
"""


def test_true_peaks_come_from_astats_and_sample_peaks_from_the_samples() -> None:
    # True peaks from the interpolated branch in dBFS as astats prints them (exact far below
    # what 3-decimal linear peaks allow); sample peaks as measured on the samples.
    loud = loudness_from(
        parse_metadata_print(EBUR128_SAMPLE),
        2,
        parse_metadata_print(TRUE_PEAKS),
        sample_peaks=(-60.000001, -40.004),
    )
    assert loud.integrated_lufs == -23.02 and loud.range_lu == 3.5
    assert loud.true_peak_dbtp == -39.0
    assert loud.sample_peak_dbfs == -40.0
    assert loud.channel_true_peaks_dbtp == (-58.06, -39.0)
    assert loud.channel_sample_peaks_dbfs == (-60.0, -40.0)


def test_a_silent_channel_has_no_peak() -> None:
    text = "frame:0 pts:0 pts_time:0\nlavfi.r128.I=-70\nlavfi.astats.1.Peak_level=-inf\n"
    loud = loudness_from(parse_metadata_print(text), 1, parse_metadata_print(text))
    assert loud.true_peak_dbtp is None and loud.channel_sample_peaks_dbfs == (None,)


def test_loudness_below_gate_is_none() -> None:
    text = "frame:0 pts:0 pts_time:0\nlavfi.r128.I=-70.000\nlavfi.r128.LRA=0\n"
    assert loudness_from(parse_metadata_print(text), channels=2).integrated_lufs is None


def test_detections_use_true_start_and_close_at_end() -> None:
    text = (
        "frame:10 pts:10 pts_time:5.0\nlavfi.silence_start=3.0\n"
        "frame:20 pts:20 pts_time:7.0\nlavfi.silence_end=6.5\n"
        "frame:30 pts:30 pts_time:9.0\nlavfi.silence_start=8.0\n"
    )
    segs = detector_segments(
        parse_metadata_print(text), "lavfi.silence_start", "lavfi.silence_end", 10.0
    )
    assert segs == [Segment(3.0, 6.5), Segment(8.0, 10.0)]


def test_merge_subtract_and_db() -> None:
    assert merge_times([1.0, 1.1, 1.2, 3.0], 0.1, max_gap=0.5) == [
        Segment(1.0, 1.3),
        Segment(3.0, 3.1),
    ]
    assert subtract([Segment(0, 10)], [Segment(2, 3)]) == [Segment(0, 2), Segment(3, 10)]
    assert linear_to_db(0.0) is None
    assert linear_to_db(1.0) == 0.0


def test_freeze_inside_black_is_dropped() -> None:
    black = [Segment(3.0, 5.0)]
    assert freezes_outside_black([Segment(3.0, 5.0), Segment(7, 9)], black) == [Segment(7, 9)]


def test_interlace_needs_one_consistent_field_order() -> None:
    def frames(verdicts: list[str]) -> str:
        return "".join(
            f"frame:{i} pts:{i} pts_time:{i / 8}\nlavfi.idet.single.current_frame={v}\n"
            for i, v in enumerate(verdicts)
        )

    interlaced, counts = interlace_from(parse_metadata_print(frames(["tff"] * 24)))
    assert interlaced == [Segment(0.0, 3.0)] and counts == {"tff": 24}
    mixed = ["tff", "bff", "progressive", "tff"] * 6
    assert interlace_from(parse_metadata_print(frames(mixed)))[0] == []


def test_progress_block() -> None:
    block = parse_progress_block(["frame=50", "out_time_us=2500000", "progress=continue"])
    assert processed_seconds(block) == 2.5
    assert processed_seconds({"out_time_us": "N/A"}) is None


def test_playlist_and_text_sniffing() -> None:
    assert sniff_playlist(b"#EXTM3U\n#EXT-X-VERSION:3\n")
    assert sniff_playlist(b"\xef\xbb\xbfffconcat version 1.0\nfile 'a.mp4'\n")
    assert not sniff_playlist(b"\x00\x00\x00\x18ftypmp42")
    assert not sniff_playlist(b"\x00\x00\x00\x18ftypmp42\x00udta#EXTM3U file 'x'")
    assert looks_like_text(b"hello world\n")
    assert not looks_like_text(b"\x00\x00\x00\x18ftypmp42")


def _video(width: int = 1920, height: int = 1080) -> VideoStream:
    return VideoStream(0, "h264", None, width, height, 25.0, 25.0, False, "progressive",
                       "yuv420p", 8, None, None, None, None, 0.0, 10.0)  # fmt: skip


def test_plan_has_one_input_and_every_branch() -> None:
    media = MediaInfo("x.mp4", 1, "mp4", 10.0, None, (_video(),),
                      (AudioStream(1, "aac", 48000, 2, "stereo", 0.0, 10.0),))  # fmt: skip
    plan = build_plan(media, Path("/in/x.mp4"), Path("/tmp/w"), AnalysisOptions(), frozenset())
    assert plan.args.count("-i") == 1
    assert plan.args[plan.args.index("-protocol_whitelist") + 1] == "file"
    # Only the demuxer the probe found may open the input: the decode cannot pick another.
    assert plan.args[plan.args.index("-format_whitelist") + 1] == media.format_name
    assert plan.args.index("-format_whitelist") < plan.args.index("-i")
    assert {b.name for b in plan.branches} == {
        "loudness", "peaks", "video", "idet",
    }  # fmt: skip
    # The track's samples and the reduced picture leave the run raw (for their levels,
    # measured on pipes), mapped by the analysis: nothing goes to the null output.
    assert plan.level_pads == {1: "[o_levels1]"}
    assert plan.picture_pad == "[o_video]" and plan.picture_format == "yuv420p"
    assert "-map" not in plan.args and "null" not in plan.args
    assert "[o_levels1]" not in plan.args
    # One graph for the picture and one per audio track (FFmpeg runs graphs in parallel).
    graphs = [plan.args[i + 1] for i, a in enumerate(plan.args) if a == "-filter_complex"]
    assert len(graphs) == 2 and graphs[1].startswith("[0:1]asplit=3")
    assert graphs[1].endswith(
        "[s_o_levels1]aformat=sample_fmts=flt,asetnsamples=n=24000:p=0[o_levels1]"
    )
    assert (
        graphs[1].count("anullsink") == 2
        and "astats=metadata=1:reset=1:measure_perchannel=Peak" in graphs[1]
    )
    graph = ";".join(graphs)
    # One loudness meter; true peaks after 4× interpolation, sample peaks from the statistics.
    assert "ebur128=metadata=1,ametadata=mode=print" in graph
    assert (
        "aresample=192000:filter_size=12,aformat=sample_fmts=fltp|dblp,asetnsamples=n=19200:p=0"
        in graph
    )
    assert graph.count("ebur128") == 1
    assert "fps=5.0" in graph and "scale=480:270" in graph and "cropdetect" not in graph
    assert analysis_size(_video(720, 576), 480) == (480, 384)


def test_plan_refuses_paths_that_would_break_the_graph() -> None:
    media = MediaInfo("x.mp4", 1, "mp4", 10.0, None, (_video(),))
    with pytest.raises(ValueError, match="unsafe"):
        build_plan(media, Path("/in/x.mp4"), Path("/tmp/a:b"), AnalysisOptions(), frozenset())


def test_the_log_pump_ends_quietly_when_its_stream_is_closed_under_it() -> None:
    # run_ffmpeg closes FFmpeg's stderr when it gives a run up; the pump thread may be reading.
    lines: queue.Queue[str | None] = queue.Queue()
    stream = io.StringIO("frame=1\nframe=2\n")
    stream.close()
    _pump(stream, lines)
    assert lines.get_nowait() is None and lines.empty()
