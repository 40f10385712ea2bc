"""The report's subtitle and speech sections: their stored shape (schema 3), the caps, the round
trip, how the text and HTML reports word them, and that a stored schema-2 report still loads
and renders as it did."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from kickflow.media.model import Segment, TrackSpeech, Transcript, TranscriptSegment
from kickflow.report import Report
from kickflow.report_html import PLOT_W, render_html
from kickflow.report_text import render_text
from kickflow.report_timed_text import (
    MAX_SHOT_TIMES,
    MAX_SPEECH_SEGMENTS,
    MAX_TRANSCRIPT_SEGMENTS,
    SECTION_KEYS,
)
from tests.sample_reports import (
    CPS_MESSAGE,
    REFUSED,
    stored_v2,
    stored_v2_text,
    timed_measurements,
    timed_report_dict,
)
from tests.unit.test_report_render import svgs

SVG = "{http://www.w3.org/2000/svg}"
SPEECH_PLOT = "Speech over the programme"


def section(report: dict[str, Any], title: str) -> str:
    """One ``<h2>`` section of the HTML report, up to the next."""
    found = re.search(rf"<h2>{title}</h2>(.*?)(?=<h2>)", render_html(report), re.S)
    assert found is not None, f"no {title} section"
    return found.group(1)


def test_each_subtitle_file_is_summarised_without_its_cues() -> None:
    d = timed_report_dict()
    assert d["schema_version"] == 3
    srt, vtt, embedded = d["subtitles"]
    assert srt == {
        "name": "EP01.en.srt",
        "format": "srt",
        "encoding": "utf-8-sig",
        "bom": True,
        "language": "en",
        "stream_index": None,
        "size_bytes": 120,
        "cue_count": 3,
        "first_cue_s": 1.0,
        "last_cue_end_s": 22.5,
        "first_cue_timecode": "10:00:01:00",  # at the file's source timecode
        "last_cue_end_timecode": "10:00:22:13",
        "problem_count": 1,
        "error": None,
    }
    assert (vtt["cue_count"], vtt["error"]) == (0, "EP01.fr.vtt is not WebVTT: no header.")
    assert vtt["first_cue_timecode"] is None
    assert (embedded["stream_index"], embedded["cue_count"]) == (2, 1)


def test_subtitle_streams_say_which_were_read() -> None:
    streams = timed_report_dict()["subtitle_streams"]
    assert [(s["index"], s["codec"], s["status"]) for s in streams] == [
        (2, "mov_text", "read"),
        (3, "dvb_subtitle", "bitmap"),
    ]
    unread = timed_report_dict(replace(timed_measurements(), subtitles=()))["subtitle_streams"]
    assert [s["status"] for s in unread] == ["not_read", "bitmap"]


def test_speech_per_track_with_its_transcript_at_source_timecode() -> None:
    one, two = timed_report_dict()["speech"]
    assert (one["position"], one["speech_s"], one["share"], one["segment_count"]) == (
        1, 4.8, 0.08, 2,
    )  # fmt: skip
    assert one["segments"] == [{"start_s": 1.0, "end_s": 3.6}, {"start_s": 10.0, "end_s": 12.2}]
    transcript = one["transcript"]
    assert (transcript["model"], transcript["language"]) == ("whisper-large-v3-turbo", "en")
    assert transcript["segments"][1] == {
        "start_s": 10.0,
        "end_s": 12.0,
        "timecode_start": "10:00:10:00",
        "timecode_end": "10:00:12:00",
        "text": "We meet again, <at last>.",
    }
    assert (transcript["bytes_sent"], transcript["audio_seconds_sent"]) == (36_000, 4.5)
    assert one["transcription_error"] is None
    assert two["transcript"] is None and two["transcription_error"] == REFUSED


def test_no_subtitles_and_no_speech_make_empty_sections() -> None:
    m = replace(timed_measurements(), subtitles=(), speech=(), shot_changes=None)
    d = timed_report_dict(replace(m, media=replace(m.media, subtitles=())))
    assert (d["subtitles"], d["subtitle_streams"], d["speech"]) == ([], [], [])
    assert d["shot_changes"] == {"measured": False, "count": 0, "times_s": [], "capped": False}
    assert "<h2>Subtitles</h2>" not in render_html(d) and "<h2>Speech</h2>" not in render_html(d)
    assert "Subtitles:" not in render_text(d) and "Speech:" not in render_text(d)


def test_long_lists_are_capped_and_say_so() -> None:
    many = tuple(Segment(i * 2.0, i * 2.0 + 1.0) for i in range(MAX_SPEECH_SEGMENTS + 5))
    said = tuple(TranscriptSegment(i, i + 0.5, "a") for i in range(MAX_TRANSCRIPT_SEGMENTS + 1))
    transcript = Transcript("m", "en", said)
    m = timed_measurements(
        speech=(TrackSpeech(1, many, 9000.0, transcript),),
        shot_changes=tuple(i / 10 for i in range(MAX_SHOT_TIMES + 1)),
    )
    d = timed_report_dict(m)
    shots, [track] = d["shot_changes"], d["speech"]
    assert (shots["count"], len(shots["times_s"]), shots["capped"]) == (2001, 2000, True)
    assert (track["segment_count"], len(track["segments"])) == (2005, 2000)
    assert track["segments_capped"] and track["speech_s"] == 2005.0, "counted over every one"
    assert track["transcript"]["segment_count"] == MAX_TRANSCRIPT_SEGMENTS + 1
    assert len(track["transcript"]["segments"]) == MAX_TRANSCRIPT_SEGMENTS
    assert "not kept in the report" in render_text(d, verbose=True)
    again = Report.from_dict(d).to_dict()
    assert {k: again[k] for k in SECTION_KEYS} == {k: d[k] for k in SECTION_KEYS}


def test_round_trip_keeps_the_sections_and_the_streams() -> None:
    d = timed_report_dict()
    again = Report.from_dict(d)
    assert again.to_dict() == d
    streams = again.measurements.media.subtitles
    assert [(s.index, s.codec, s.text, s.title) for s in streams] == [
        (2, "mov_text", True, None),
        (3, "dvb_subtitle", False, "Français SDH"),
    ]


def test_a_stored_schema_2_report_loads_and_renders_as_before() -> None:
    v2 = stored_v2()
    assert v2["schema_version"] == 2 and not SECTION_KEYS & v2.keys()
    assert render_text(v2) == stored_v2_text()
    page = render_html(v2)
    assert "<h2>Subtitles</h2>" not in page and "<h2>Speech</h2>" not in page
    assert "Black picture for 2.0 s from 10.00 s" in page
    again = Report.from_dict(v2)
    assert again.measurements.subtitles == () and again.measurements.speech == ()
    upgraded = again.to_dict()
    assert upgraded["schema_version"] == 3
    assert upgraded["findings"] == v2["findings"] and upgraded["subtitles"] == []
    assert render_text(upgraded) == stored_v2_text(), "nothing to show: the same summary"


def test_text_report_has_subtitle_files_speech_and_the_transcript() -> None:
    text = render_text(timed_report_dict())
    subtitles = text[text.index("Subtitles:") : text.index("Speech:")]
    assert (
        "  EP01.en.srt: srt, UTF-8 with BOM, en — 3 cues from 10:00:01:00 to 10:00:22:13, "
        "1 problem reading it\n"
    ) in subtitles
    assert "  EP01.fr.vtt: vtt — not read: EP01.fr.vtt is not WebVTT: no header.\n" in subtitles
    assert "stream #3: dvb_subtitle, fra, “Français SDH” — bitmap: present, not read" in subtitles
    assert "stream #2:" not in subtitles, "a stream that was read is listed with the files"
    assert "3 shot changes detected" in subtitles
    assert "  Track 1: speech for 4.8 s (8.0% of the programme) in 2 segments\n" in text
    assert "      10:00:10:00  We meet again, <at last>.\n" in text
    assert (
        f"  Track 2: speech for 2.3 s (3.8% of the programme) in 1 segment\n    {REFUSED}\n" in text
    )


def test_text_report_shows_the_first_transcript_lines_unless_verbose() -> None:
    said = tuple(TranscriptSegment(i, i + 0.5, f"line {i}") for i in range(30))
    m = timed_measurements(
        speech=(TrackSpeech(1, (Segment(0, 30),), 60.0, Transcript("m", None, said)),)
    )
    d = timed_report_dict(m)
    short, full = render_text(d), render_text(d, verbose=True)
    assert "line 11\n" in short and "line 12\n" not in short
    assert "… 18 more lines in the JSON and HTML reports" in short
    assert "line 29\n" in full and "more lines" not in full


def test_a_cue_finding_reads_with_its_file_number_text_and_timecode() -> None:
    text = render_text(timed_report_dict())
    assert (
        f"  WARNING 10:00:10:00  10.00–11.00 s     subtitle.reading_speed: {CPS_MESSAGE}\n" in text
    )
    findings = section(timed_report_dict(), r"Findings \(1\)")
    assert (
        '<td class="num">10:00:10:00</td><td class="num">10.00–11.00 s</td>'
        f"<td>subtitle.reading_speed</td><td>{CPS_MESSAGE}</td>"
    ) in findings


def test_transcript_lines_are_one_line_each() -> None:
    said = (TranscriptSegment(5.0, 6.0, "  Two lines\n heard. "),)
    m = timed_measurements(
        speech=(TrackSpeech(1, (Segment(5, 6),), 60.0, Transcript("m", None, said)),)
    )
    assert "      10:00:05:00  Two lines / heard.\n" in render_text(timed_report_dict(m))


def test_html_report_has_a_files_table_and_a_folded_transcript() -> None:
    d = timed_report_dict()
    subtitles = section(d, "Subtitles")
    rows = re.findall(r"<tr>(.*?)</tr>", subtitles)
    cells = [re.findall(r"<t[hd]>(.*?)</t[hd]>", r) for r in rows]
    assert cells[0] == ["File", "Format", "Encoding", "Language", "Cues", "From", "To", "Notes"]
    assert cells[1] == [
        "EP01.en.srt", "srt", "UTF-8 with BOM", "en", "3", "10:00:01:00", "10:00:22:13",
        "1 problem reading it",
    ]  # fmt: skip
    assert cells[2][4] == "—" and cells[2][7].startswith("not read: EP01.fr.vtt")
    speech = section(d, "Speech")
    assert "<h3>Track 1</h3><p>speech for 4.8 s (8.0% of the programme) in 2 segments</p>" in speech
    folded = re.search(r"<details><summary>(.*?)</summary>(.*?)</details>", speech, re.S)
    assert folded is not None
    assert folded.group(1) == (
        "transcript by whisper-large-v3-turbo, language en: 2 segments "
        "(36 kB sent for 4.5 s of speech)"
    )
    assert '<li><span class="tc">10:00:10:00</span>We meet again, &lt;at last&gt;.</li>' in (
        folded.group(2)
    )
    assert f'<p class="unavailable">{REFUSED}</p>' in speech
    page = render_html(d)
    assert "<script" not in page
    assert page.count(" style=") == 1, "no inline style but the banner's colour"


def test_a_schema_1_report_renders_without_the_new_sections() -> None:
    v1 = {k: v for k, v in stored_v2().items() if k not in ("audio_tracks", "audio_groups")}
    v1 |= {"schema_version": 1}
    text = render_text(v1)
    assert "Subtitles:" not in text and "Speech:" not in text
    assert "video.black: Black picture for 2.0 s from 10.00 s" in text
    assert "<h2>Subtitles</h2>" not in render_html(v1)
    assert Report.from_dict(v1).to_dict()["speech"] == []


def test_the_speech_plot_has_a_lane_per_track_and_the_cuts() -> None:
    [plot] = [
        s
        for s in svgs(render_html(timed_report_dict()))
        if s.get("aria-label", "").startswith("Speech")
    ]
    labels = [t.text for t in plot.iter(f"{SVG}text")][:3]
    assert labels == ["Track 1", "Track 2", "Shot changes"]
    bars = [r for r in plot.iter(f"{SVG}rect") if r.get("fill") != "#f2f2f2"]
    assert len(bars) == 2 + 1 + 3, "two segments, one segment, three cuts"
    x = [float(r.get("x", 0)) for r in bars]
    assert x[0] < x[1] and x[3] < x[4] < x[5], "in time order, on one time axis"
    width = float(bars[0].get("width", 0))
    assert abs(width - (3.6 - 1.0) / 60 * PLOT_W) < 0.1, "1.0–3.6 s of a 60 s programme"


def test_an_empty_transcript_is_said_without_a_fold() -> None:
    empty = TrackSpeech(1, (Segment(0, 1),), 60.0, Transcript("m", None, (), 1.0, 9000, 1))
    speech = section(timed_report_dict(timed_measurements(speech=(empty,))), "Speech")
    assert "<details" not in speech
    assert "<p>transcript by m: 0 segments (9 kB sent for 1.0 s of speech)</p>" in speech
