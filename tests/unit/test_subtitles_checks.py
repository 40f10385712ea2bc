"""The subtitle.* checks on generated SRT, WebVTT, TTML and ASS files: each defect found at
its cue, in every format; a clean file yields nothing; no files skips every check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kickflow.checks import CheckResult, run_check
from kickflow.media.model import Measurements, MediaInfo, SubtitleFile, SubtitleStream, VideoStream
from kickflow.profiles import CHECK_IDS, Profile, load_profile
from kickflow.subtitles.load import parse_subtitle_bytes
from tests.fixtures_subtitles import WRITERS, CueSpec, cue

DURATION = 60.0
SUBTITLE_CHECKS = [c for c in CHECK_IDS if c.startswith("subtitle.") and c != "subtitle.language"]
VIDEO = VideoStream(
    index=0, codec="h264", profile="High", width=1920, height=1080, frame_rate=25.0,
    avg_frame_rate=25.0, variable_frame_rate=False, scan="progressive", pix_fmt="yuv420p",
    bit_depth=8, color_range="tv", color_primaries="bt709", color_transfer="bt709",
    color_space="bt709", start_s=0.0, duration_s=DURATION,
)  # fmt: skip

# One defect per cue (numbers as an operator counts them), at 25 fps in a 60 s programme.
DEFECTIVE: list[CueSpec] = [
    cue(1.0, 3.0, "Hello there.", markup="italic"),  # 1: clean; italics are allowed
    cue(4.0, 5.0, "Far too much text to read", "in a single second, sorry."),  # 2: 51 CPS
    cue(6.0, 9.0, "This single line is much longer than forty-two characters"),  # 3: CPL
    cue(11.0, 14.0, "One", "Two", "Three"),  # 4: three lines
    cue(15.0, 15.4, "Hi"),  # 5: 0.4 s, too short
    cue(16.0, 24.0, "A long one"),  # 6: 8 s, too long
    cue(24.04, 26.0, "Gap"),  # 7: one frame after cue 6 ends
    cue(25.5, 27.0, "Overlap"),  # 8: overlaps cue 7 by 0.5 s
    cue(28.0, 30.0, "Coloured words", markup="color"),  # 9: colour markup is forbidden
    cue(31.0, 32.0),  # 10: empty
    cue(40.08, 42.0, "Cut"),  # 11: starts 2 frames after the cut at 40 s
    cue(59.0, 61.0, "The end"),  # 12: runs 1 s past the programme's end
]
CLEAN: list[CueSpec] = [
    cue(1.0, 3.0, "Hello there.", markup="italic"),
    cue(3.08, 5.5, "Two lines that fit", "within the limits."),  # the 2-frame minimum
    cue(10.0, 12.0, "On the cut at ten seconds."),
    cue(50.0, 52.0, "Bye."),
]
CUTS = (10.0, 40.0)
# check id -> the cue numbers its findings must name (in order), for DEFECTIVE.
EXPECTED: dict[str, list[int]] = {
    "subtitle.reading_speed": [2],
    "subtitle.line_length": [3],
    "subtitle.lines": [4],
    "subtitle.duration": [5, 6],
    "subtitle.gap": [7],
    "subtitle.overlap": [8],
    "subtitle.markup": [9],
    "subtitle.empty": [10],
    "subtitle.shot_change": [11],
    "subtitle.bounds": [12],
}


def media(*, video: bool = True, subtitles: tuple[SubtitleStream, ...] = ()) -> MediaInfo:
    return MediaInfo(
        path="EP01.mov",
        size_bytes=1000,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration_s=DURATION,
        bit_rate=8_000_000,
        video=(VIDEO,) if video else (),
        subtitles=subtitles,
        subtitle_streams=len(subtitles),
    )


def written(fmt: str, cues: list[CueSpec], stem: str = "EP01.en") -> SubtitleFile:
    ext, write = WRITERS[fmt]
    loaded = parse_subtitle_bytes(write(cues).encode("utf-8"), stem + ext)
    assert loaded.error is None, loaded.error
    return loaded


def measured(*files: SubtitleFile, cuts: tuple[float, ...] | None = CUTS) -> Measurements:
    return Measurements(media=media(), subtitles=files, shot_changes=cuts)


def timed_text() -> Profile:
    return load_profile("timed-text")


def cue_numbers(result: CheckResult) -> list[int]:
    return [int(f.message.split(" cue ")[1].split()[0].rstrip(":")) for f in result.findings]


@pytest.mark.parametrize("fmt", list(WRITERS))
@pytest.mark.parametrize("check_id", list(EXPECTED))
def test_each_defect_is_found_at_its_cue(fmt: str, check_id: str) -> None:
    m = measured(written(fmt, DEFECTIVE))
    outcome = run_check(check_id, m, timed_text())
    assert cue_numbers(outcome) == EXPECTED[check_id], [f.message for f in outcome.findings]
    for finding in outcome.findings:
        assert finding.message.startswith(f"EP01.en{WRITERS[fmt][0]} cue ")
        assert finding.start_s is not None and finding.end_s is not None


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_findings_carry_the_cue_text_and_times(fmt: str) -> None:
    m = measured(written(fmt, DEFECTIVE))
    (speed,) = run_check("subtitle.reading_speed", m, timed_text()).findings
    assert "cue 2 “Far too much text to read in a single s…”:" in speed.message
    assert "51.0 characters per second over 1.00 s (max 20, for en)" in speed.message
    assert (speed.start_s, speed.end_s) == (4.0, 5.0)
    (overlap,) = run_check("subtitle.overlap", m, timed_text()).findings
    assert "cue 8 “Overlap”: overlaps cue 7 by 0.500 s" in overlap.message
    assert (overlap.start_s, overlap.end_s) == (25.5, 26.0)
    (gap,) = run_check("subtitle.gap", m, timed_text()).findings
    assert "starts 1 frame after cue 6 ends (min 2 at 25 fps)" in gap.message
    (late,) = run_check("subtitle.bounds", m, timed_text()).findings
    assert "runs 1.00 s past the programme end (60.00 s)" in late.message
    (near,) = run_check("subtitle.shot_change", m, timed_text()).findings
    assert "starts 2 frames after the shot change at 40.00 s" in near.message


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_a_clean_file_yields_no_findings(fmt: str) -> None:
    m = measured(written(fmt, CLEAN))
    for check_id in SUBTITLE_CHECKS:
        outcome = run_check(check_id, m, timed_text())
        if fmt == "ass" and check_id == "subtitle.files":
            assert [f.message for f in outcome.findings] == [
                "EP01.en.ass is ASS; the profile accepts TTML, WebVTT or SRT"
            ]
            continue
        assert outcome.findings == [], (check_id, [f.message for f in outcome.findings])
        assert outcome.status == "passed", (check_id, outcome.summary)


def test_without_subtitle_files_every_subtitle_check_is_skipped() -> None:
    m = Measurements(media=media())
    for check_id in SUBTITLE_CHECKS:
        outcome = run_check(check_id, m, load_profile("ebu-r128"))
        assert (outcome.status, outcome.summary) == ("skipped", "No subtitle files"), check_id


def test_a_profile_that_requires_subtitles_fails_without_them() -> None:
    outcome = run_check("subtitle.files", Measurements(media=media()), timed_text())
    assert outcome.status == "failed"
    assert outcome.summary == "No subtitle file was delivered; the profile requires one"


def test_required_languages_are_each_covered() -> None:
    spec = timed_text().subtitles.model_copy(update={"languages": ("en", "fra", "de")})
    profile = timed_text().model_copy(update={"subtitles": spec})
    pgs = SubtitleStream(index=3, codec="hdmv_pgs_subtitle", text=False, language="ger")
    english = written("srt", CLEAN)
    unnamed = written("srt", CLEAN, stem="EP01")
    m = replace(measured(english, unnamed), media=media(subtitles=(pgs,)))
    messages = [f.message for f in run_check("subtitle.files", m, profile).findings]
    assert messages == [
        "No subtitle file in fra; the profile requires en, fra, de",
        "EP01.srt does not say its language: name it like EP01.en.srt",
        "Subtitle stream #3 (hdmv_pgs_subtitle) holds bitmap subtitles: present, not read",
    ]


def test_the_gap_is_counted_in_frames_of_the_video() -> None:
    cues = [cue(1.0, 2.0, "One"), cue(2.05, 3.0, "Two")]  # 50 ms: 1.25 frames at 25 fps
    m = measured(written("srt", cues))
    assert cue_numbers(run_check("subtitle.gap", m, timed_text())) == [2]
    at_60 = replace(m, media=replace(m.media, video=(replace(VIDEO, frame_rate=60.0),)))
    assert cue_numbers(run_check("subtitle.gap", at_60, timed_text())) == [2]  # chained
    loose = timed_text().subtitles.model_copy(update={"chain_below_frames": 0})
    profile = timed_text().model_copy(update={"subtitles": loose})
    assert run_check("subtitle.gap", at_60, profile).findings == []  # 3 frames at 60 fps


def test_shot_changes_not_measured_skip_with_a_reason() -> None:
    m = measured(written("srt", DEFECTIVE), cuts=None)
    outcome = run_check("subtitle.shot_change", m, timed_text())
    assert (outcome.status, outcome.summary) == ("skipped", "Shot changes were not detected")
    outcome = run_check(
        "subtitle.shot_change", replace(m, shot_changes=CUTS), load_profile("ebu-r128")
    )
    assert outcome.summary == "The profile does not check cues against shot changes"


def test_out_times_should_end_the_minimum_gap_before_a_cut() -> None:
    cues = [cue(1.0, 8.92, "Good"), cue(12.0, 39.96, "One frame short"), cue(41.0, 43.0, "x")]
    m = measured(written("srt", cues), cuts=(9.0, 40.0))
    findings = run_check("subtitle.shot_change", m, timed_text()).findings
    assert [f.message.split(": ", 1)[1] for f in findings] == [
        "ends 1 frame before the shot change at 40.00 s; end it 2 frames before it"
    ]


def test_many_findings_are_capped_per_file() -> None:
    cues = [cue(i * 1.0, i * 1.0 + 0.2, f"Cue {i}") for i in range(50)]
    outcome = run_check("subtitle.duration", measured(written("srt", cues)), timed_text())
    assert len(outcome.findings) == 21
    assert (
        outcome.findings[-1].message
        == "30 more cues too short or too long in EP01.en.srt not listed"
    )


def test_an_unreadable_file_is_a_parse_finding_and_the_rest_skip() -> None:
    broken = parse_subtitle_bytes(b"<html><body>Not found</body></html>", "EP01.en.srt")
    m = measured(broken)
    parse = run_check("subtitle.parse", m, timed_text())
    assert [f.message for f in parse.findings] == [
        "EP01.en.srt is an HTML page, not a subtitle file"
    ]
    assert run_check("subtitle.duration", m, timed_text()).summary == (
        "No subtitle file could be read (see subtitle.parse)"
    )


def test_encoding_is_judged_on_sidecar_files() -> None:
    text = "1\n00:00:01,000 --> 00:00:03,000\nCafé crème, déjà vu.\n"
    legacy = parse_subtitle_bytes(text.encode("cp1252"), "EP01.fr.srt")
    wide = parse_subtitle_bytes(text.encode("utf-16"), "EP01.de.srt")
    marked = parse_subtitle_bytes(b"\xef\xbb\xbf" + text.encode(), "EP01.es.srt")
    stream = parse_subtitle_bytes(text.encode(), "stream #2 (subrip)", stream_index=2)
    m = measured(legacy, wide, marked, stream)
    messages = [f.message for f in run_check("subtitle.encoding", m, timed_text()).findings]
    assert messages == [
        "EP01.fr.srt is Windows-1252, not UTF-8; "
        "the first character that is not UTF-8 is on line 3",
        "EP01.de.srt is UTF-16 (little-endian), not UTF-8",
    ]
    strict = timed_text().subtitles.model_copy(update={"allow_bom": False})
    profile = timed_text().model_copy(update={"subtitles": strict})
    messages = [
        f.message for f in run_check("subtitle.encoding", measured(marked), profile).findings
    ]
    assert messages == ["EP01.es.srt starts with a byte-order mark; the profile refuses one"]


def test_japanese_counts_full_width_characters_against_its_own_limit() -> None:
    fourteen, thirteen = "あいうえおかきくけこさしすせ", "あいうえおかきくけこさしす"
    half_width = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 26 half-width characters count 13
    cues = [cue(1.0, 5.0, fourteen), cue(6.0, 10.0, thirteen), cue(11.0, 18.0, half_width)]
    named = run_check(
        "subtitle.line_length", measured(written("srt", cues, "EP01.ja")), timed_text()
    )
    assert [f.message.split(": ", 1)[1] for f in named.findings] == [
        "line 1 has 14 characters (max 13, for ja)"
    ]
    unnamed = run_check(
        "subtitle.line_length", measured(written("srt", cues, "EP01")), timed_text()
    )
    assert [f.message.split(": ", 1)[1] for f in unnamed.findings] == [
        "line 1 has 14 characters (max 13, for ja (from its script))"
    ]


def test_japanese_reading_speed_has_its_own_limit() -> None:
    cues = [cue(1.0, 3.0, "あいうえおかきくけこ")]  # 10 characters in 2 s: 5 per second
    outcome = run_check(
        "subtitle.reading_speed", measured(written("vtt", cues, "EP01.ja")), timed_text()
    )
    assert [f.message.split(": ", 1)[1] for f in outcome.findings] == [
        "5.0 characters per second over 2.00 s (max 4, for ja)"
    ]


def test_parse_problems_are_reported_with_their_line() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000\nOne\n\n"
        "2\n00:00:03,000 -> 00:00:04,000\nBroken arrow\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nThree\n"
    )
    m = measured(parse_subtitle_bytes(text.encode(), "EP01.en.srt"))
    messages = [f.message for f in run_check("subtitle.parse", m, timed_text()).findings]
    assert messages == [
        "EP01.en.srt line 5: text that belongs to no cue: “2” "
        "(a blank line inside a cue, or a missing timing line?)",
        "EP01.en.srt line 9: cue number 3 where 2 was expected",
    ]
