"""Checks on hand-built measurements: the table, container/media checks and video checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kickflow.checks import CHECKS, CheckResult, run_check, run_checks
from kickflow.media.model import (
    AudioAnalysis,
    AudioStream,
    CropArea,
    DecodeErrors,
    LevelSample,
    Loudness,
    LoudnessPoint,
    Measurements,
    MediaInfo,
    Segment,
    VideoAnalysis,
    VideoStream,
)
from kickflow.media.pse import PseAnalysis
from kickflow.profiles import CHECK_IDS, load_profile

DURATION = 60.0

VIDEO_STREAM = VideoStream(
    index=0,
    codec="h264",
    profile="High",
    width=1920,
    height=1080,
    frame_rate=25.0,
    avg_frame_rate=25.0,
    variable_frame_rate=False,
    scan="progressive",
    pix_fmt="yuv420p",
    bit_depth=8,
    color_range="tv",
    color_primaries="bt709",
    color_transfer="bt709",
    color_space="bt709",
    start_s=0.0,
    duration_s=DURATION,
)
AUDIO_STREAM = AudioStream(
    index=1,
    codec="aac",
    sample_rate=48000,
    channels=2,
    layout="stereo",
    start_s=0.0,
    duration_s=DURATION,
)


def clean() -> Measurements:
    """A 60 s 1080p25 file with stereo audio at -23 LUFS and no defect."""
    return Measurements(
        media=MediaInfo(
            path="clean.mp4",
            size_bytes=1000,
            format_name="mov,mp4,m4a,3gp,3g2,mj2",
            duration_s=DURATION,
            bit_rate=8_000_000,
            video=(VIDEO_STREAM,),
            audio=(AUDIO_STREAM,),
        ),
        loudness=Loudness(
            integrated_lufs=-23.0,
            range_lu=6.0,
            true_peak_dbtp=-2.0,
            sample_peak_dbfs=-2.5,
            channel_true_peaks_dbtp=(-2.0, -2.3),
            curve=tuple(LoudnessPoint(t / 10, -23.0, -23.0) for t in range(600)),
        ),
        audio=AudioAnalysis(
            stream_index=1,
            channels=2,
            windows=1200,
            dc_offset=(0.0001, -0.0002),
            phase_mean=0.8,
            analysed_duration_s=DURATION,
        ),
        video=VideoAnalysis(
            stream_index=0,
            width=1920,
            height=1080,
            bit_depth=8,
            sample_fps=5.0,
            levels=tuple(LevelSample(i / 5, 0.002, 16, 235) for i in range(300)),
            interlace_counts={"progressive": 300},
            crop=CropArea(1920, 1080, 0, 0),
            frames_analysed=300,
            analysed_duration_s=DURATION,
        ),
        pse=PseAnalysis(frames_analysed=1500, frame_rate=25.0, grid=(16, 9)),
    )


def with_media(m: Measurements, **changes: Any) -> Measurements:
    return replace(m, media=replace(m.media, **changes))


def with_video(m: Measurements, **changes: Any) -> Measurements:
    assert m.video is not None
    return replace(m, video=replace(m.video, **changes))


def with_audio(m: Measurements, **changes: Any) -> Measurements:
    assert m.audio is not None
    return replace(m, audio=replace(m.audio, **changes))


def with_loudness(m: Measurements, **changes: Any) -> Measurements:
    assert m.loudness is not None
    return replace(m, loudness=replace(m.loudness, **changes))


def audio_only() -> Measurements:
    m = with_media(clean(), video=(), format_name="wav")
    return replace(m, video=None)


def check(check_id: str, m: Measurements, profile: str = "ebu-r128") -> CheckResult:
    return run_check(check_id, m, load_profile(profile))


def spans(result: CheckResult) -> list[tuple[float | None, float | None]]:
    return [(f.start_s, f.end_s) for f in result.findings]


# --- the table ------------------------------------------------------------------------------


def test_table_has_every_stable_id_in_order() -> None:
    assert tuple(CHECKS) == CHECK_IDS


@pytest.mark.parametrize("profile", ["ebu-r128", "atsc-a85", "streaming", "web"])
def test_clean_file_has_no_findings(profile: str) -> None:
    m = clean()
    if profile == "atsc-a85":
        m = with_media(m, video=(replace(VIDEO_STREAM, frame_rate=29.97),))
    results = run_checks(m, load_profile(profile))
    assert [r.id for r in results] == list(CHECK_IDS)
    # The clean file is mixed at -23 LUFS: too quiet for web's -14 only.
    expected = {"audio.loudness"} if profile == "web" else set()
    assert {r.id for r in results if r.findings} == expected


def test_every_result_has_a_one_sentence_summary() -> None:
    for r in run_checks(clean(), load_profile("ebu-r128")):
        # A file delivered alone: no subtitles, no track listened to (nothing to judge).
        nothing_to_judge = r.id.startswith(("subtitle.", "speech.")) and r.status == "skipped"
        assert r.status == "passed" or nothing_to_judge, r
        assert r.summary
        assert "\n" not in r.summary


def test_off_severity_skips_the_check(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('extends = "ebu-r128"\n[severity]\n"video.black" = "off"\n')
    m = with_video(clean(), black=(Segment(10, 20),))
    result = run_check("video.black", m, load_profile(str(path)))
    assert (result.status, result.findings) == ("skipped", [])


def test_findings_carry_check_id_and_profile_severity() -> None:
    m = with_video(clean(), black=(Segment(10, 20),))
    (finding,) = check("video.black", m).findings
    assert finding.check == "video.black"
    assert finding.severity == "warning"  # ebu-r128 makes black a warning
    assert check("video.black", m).status == "warning"


# --- container and media ----------------------------------------------------------------------


def test_audio_only_with_video_profile_is_a_streams_error() -> None:
    results = {r.id: r for r in run_checks(audio_only(), load_profile("ebu-r128"))}
    streams = results["container.streams"]
    assert streams.status == "failed"
    assert "requires video" in streams.findings[0].message
    for video_check in ["video.format", "video.black", "video.levels", "video.letterbox"]:
        assert results[video_check].status == "skipped"
        assert results[video_check].summary == "No video stream"


def test_audio_only_with_web_profile_skips_video_checks() -> None:
    results = run_checks(audio_only(), load_profile("web"))
    by_id = {r.id: r for r in results}
    assert by_id["container.streams"].status == "passed"
    assert all(by_id[c].status == "skipped" for c in CHECK_IDS if c.startswith("video."))
    assert by_id["media.duration_mismatch"].status == "skipped"


def test_container_format_not_allowed() -> None:
    m = with_media(clean(), format_name="matroska,webm")
    result = check("container.streams", m, "streaming")
    assert result.status == "failed"
    assert "matroska,webm" in result.findings[0].message
    assert check("container.streams", clean(), "streaming").status == "passed"


def test_decode_errors_grouped_into_regions() -> None:
    errors = DecodeErrors(count=4, times_s=(10.0, 10.4, 10.8, 30.0), samples=("corrupt slice",))
    result = check("media.decode_errors", replace(clean(), decode_errors=errors))
    assert result.status == "failed"
    assert spans(result) == [(None, None), (10.0, 10.8), (30.0, 30.0)]
    assert "4 decode errors in 2 regions" in result.findings[0].message
    assert "corrupt slice" in result.findings[0].message
    assert result.findings[1].message == "3 decode errors between 10.00 s and 10.80 s"


def test_decode_errors_without_times_are_whole_file() -> None:
    result = check("media.decode_errors", replace(clean(), decode_errors=DecodeErrors(count=1)))
    assert spans(result) == [(None, None)]
    assert result.findings[0].message == "1 decode error"


def test_duration_mismatch() -> None:
    short = replace(AUDIO_STREAM, duration_s=DURATION - 2)
    result = check("media.duration_mismatch", with_media(clean(), audio=(short,)))
    assert result.status == "warning"
    assert "Audio is 2.0 s shorter than video" in result.findings[0].message
    late = replace(AUDIO_STREAM, start_s=1.0)
    assert "Audio starts 1.0 s after video" in (
        check("media.duration_mismatch", with_media(clean(), audio=(late,))).summary
    )
    small = replace(AUDIO_STREAM, duration_s=DURATION - 0.04)
    assert check("media.duration_mismatch", with_media(clean(), audio=(small,))).findings == []


# --- video ------------------------------------------------------------------------------------


def test_video_format_mismatches_each_named() -> None:
    stream = replace(
        VIDEO_STREAM,
        width=1280,
        height=720,
        frame_rate=50.0,
        scan="tff",
        pix_fmt="yuv444p",
        codec="mpeg2video",
        variable_frame_rate=True,
    )
    result = check("video.format", with_media(clean(), video=(stream,)), "streaming")
    messages = " | ".join(f.message for f in result.findings)
    assert len(result.findings) == 6
    for part in ["mpeg2video", "1280x720", "50.000 fps", "variable", "scan tff", "yuv444p"]:
        assert part in messages
    assert all(f.start_s is None for f in result.findings)


def test_frame_rate_tolerance_accepts_ntsc_rates() -> None:
    stream = replace(VIDEO_STREAM, frame_rate=24000 / 1001)
    assert check("video.format", with_media(clean(), video=(stream,)), "streaming").findings == []


def test_black_head_and_tail_within_allowance_are_not_findings() -> None:
    m = with_video(clean(), black=(Segment(0.0, 4.0), Segment(52.0, 60.0)))
    assert check("video.black", m).status == "passed"


def test_black_longer_than_head_allowance_and_mid_programme() -> None:
    m = with_video(clean(), black=(Segment(0.0, 7.0), Segment(20.0, 21.5), Segment(30, 30.5)))
    result = check("video.black", m)
    assert spans(result) == [(0.0, 7.0), (20.0, 21.5)]  # 0.5 s is under min_s (1 s)
    assert "at the head" in result.findings[0].message
    assert result.findings[1].message == "Black picture for 1.5 s from 20.00 s"


def test_freeze_inside_black_is_not_a_freeze() -> None:
    m = with_video(clean(), black=(Segment(20.0, 25.0),), freeze=(Segment(20.04, 25.0),))
    assert check("video.freeze", m).findings == []
    m = with_video(clean(), black=(Segment(20.0, 25.0),), freeze=(Segment(20.0, 30.0),))
    assert spans(check("video.freeze", m)) == [(25.0, 30.0)]


def test_freeze_found() -> None:
    result = check("video.freeze", with_video(clean(), freeze=(Segment(40.0, 43.0),)))
    assert (result.status, spans(result)) == ("warning", [(40.0, 43.0)])


def test_levels_judged_on_out_of_range_share_not_extremes() -> None:
    # Ringing: extremes outside 16-235 everywhere, but only 0.6% of pixels: legal.
    ringing = tuple(LevelSample(i / 5, 0.006, 2, 252) for i in range(300))
    assert check("video.levels", with_video(clean(), levels=ringing)).status == "passed"


def test_levels_runs_of_offending_samples() -> None:
    samples = [LevelSample(i / 5, 0.002, 16, 235) for i in range(300)]
    for i in range(50, 60):  # 10.0 s .. 11.8 s, then a single sample at 30 s
        samples[i] = LevelSample(i / 5, 0.05, 16, 250)
    samples[150] = LevelSample(30.0, 0.2, 0, 255)
    result = check("video.levels", with_video(clean(), levels=tuple(samples)))
    assert result.status == "failed"
    assert spans(result) == [(10.0, pytest.approx(12.0)), (30.0, pytest.approx(30.2))]
    assert "5.0% of pixels" in result.findings[0].message
    assert "Y 16–250" in result.findings[0].message


def test_levels_every_frame_spacing_uses_frame_rate() -> None:
    samples = tuple(LevelSample(i / 25, 0.5 if 25 <= i < 50 else 0.0, 0, 255) for i in range(75))
    m = with_video(clean(), sample_fps=None, levels=samples)
    assert spans(check("video.levels", m)) == [(1.0, pytest.approx(2.0))]


def test_levels_not_measured_is_skipped() -> None:
    assert check("video.levels", with_video(clean(), levels=())).status == "skipped"


def test_interlaced_content_with_progressive_profile() -> None:
    m = with_video(clean(), interlaced=(Segment(5.0, 15.0), Segment(30.0, 30.5)))
    result = check("video.interlace", m, "streaming")
    assert (result.status, spans(result)) == ("failed", [(5.0, 15.0)])
    assert "profile wants progressive" in result.findings[0].message


def test_interlaced_content_flagged_tff_is_fine_for_ebu() -> None:
    m = with_video(clean(), interlaced=(Segment(0.0, 60.0),))
    m = with_media(m, video=(replace(VIDEO_STREAM, scan="tff"),))
    assert check("video.interlace", m).status == "passed"
    # The same content flagged progressive is a mismatch even where interlace is allowed.
    flagged = with_video(clean(), interlaced=(Segment(0.0, 60.0),))
    assert "flagged progressive" in check("video.interlace", flagged).findings[0].message


def test_letterbox_and_pillarbox() -> None:
    m = with_video(clean(), crop=CropArea(1920, 800, 0, 140))
    (finding,) = check("video.letterbox", m).findings
    assert finding.severity == "info"
    assert finding.message.startswith("Letterbox (140 px top, 140 px bottom)")
    m = with_video(clean(), crop=CropArea(1440, 1080, 240, 0))
    assert "pillarbox" in check("video.letterbox", m).findings[0].message.lower()
    # cropdetect rounding (1080 -> 1072) is not a letterbox
    m = with_video(clean(), crop=CropArea(1920, 1072, 0, 4))
    assert check("video.letterbox", m).findings == []


def test_letterbox_not_measured_is_skipped() -> None:
    assert check("video.letterbox", with_video(clean(), crop=None)).status == "skipped"


def test_black_over_the_whole_file_says_so() -> None:
    result = check("video.black", with_video(clean(), black=(Segment(0.0, DURATION),)))
    assert result.findings[0].message == "Black picture for 60.0 s from 0.00 s, the whole file"
