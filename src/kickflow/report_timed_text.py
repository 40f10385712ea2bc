"""The report's timed-text and speech sections: their stored shape and the words renderers use.

A stored report keeps summaries, not every cue: per subtitle file its format, encoding, cue
count and span (the subtitle findings name the cues that matter), per subtitle stream whether
it was read, the shot changes (capped), and per listened track its speech segments (capped)
and transcript with programme times and source timecodes. The text report, the HTML report
and the dashboard's job page all word these sections with the functions below, so they read
the same everywhere. Reports stored before schema 3 have none of these keys: every reader
here takes their absence as "nothing to show".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kickflow.media.model import (
    Measurements,
    MediaInfo,
    SubtitleFile,
    SubtitleStream,
    TrackSpeech,
    Transcript,
)

SECTION_KEYS = ("subtitles", "subtitle_streams", "shot_changes", "speech")
MAX_SHOT_TIMES = 2000  # a feature film has one to three thousand cuts
MAX_SPEECH_SEGMENTS = 2000
MAX_TRANSCRIPT_SEGMENTS = 5000  # some four hours of dialogue in Whisper-sized segments
STREAM_STATUS_WORDS = {
    "read": "read",
    "unreadable": "could not be read",
    "bitmap": "bitmap: present, not read",
    "not_read": "not read",
}

# Source timecode of a programme time (None for None), as the report's findings carry it.
TimecodeAt = Callable[[float | None], str | None]


def timed_text_sections(
    m: Measurements, layout: Sequence[dict[str, Any]], at: TimecodeAt
) -> dict[str, Any]:
    """The four sections of :data:`SECTION_KEYS` for ``m``; ``layout`` is the profile's tracks."""
    return {
        "subtitles": [subtitle_file_dict(f, at) for f in m.subtitles],
        "subtitle_streams": [_stream_dict(s, m.subtitles) for s in m.media.subtitles],
        "shot_changes": shot_changes_dict(m.shot_changes),
        "speech": [speech_dict(t, m, layout, at) for t in m.speech],
    }


def subtitle_file_dict(f: SubtitleFile, at: TimecodeAt) -> dict[str, Any]:
    """One subtitle file's summary: what it is, how many cues, where they start and end."""
    first = min((c.start_s for c in f.cues), default=None)
    last = max((c.end_s for c in f.cues), default=None)
    return {
        "name": f.name,
        "format": f.format,
        "encoding": f.encoding,
        "bom": f.bom,
        "language": f.language,
        "stream_index": f.stream_index,
        "size_bytes": f.size_bytes,
        "cue_count": len(f.cues),
        "first_cue_s": first,
        "last_cue_end_s": last,
        "first_cue_timecode": at(first),
        "last_cue_end_timecode": at(last),
        "problem_count": len(f.problems),
        "error": f.error,
    }


def _stream_dict(s: SubtitleStream, files: Sequence[SubtitleFile]) -> dict[str, Any]:
    read = next((f for f in files if f.stream_index == s.index), None)
    if not s.text:
        status = "bitmap"  # DVB, PGS, DVD: pictures of text, nothing to parse
    elif read is None:
        status = "not_read"
    else:
        status = "unreadable" if read.error else "read"
    return {
        "index": s.index,
        "codec": s.codec,
        "text": s.text,
        "language": s.language,
        "title": s.title,
        "status": status,
    }


def shot_changes_dict(times: tuple[float, ...] | None) -> dict[str, Any]:
    """Whether cuts were detected, how many, and their times (the first MAX_SHOT_TIMES)."""
    found = times or ()
    return {
        "measured": times is not None,
        "count": len(found),
        "times_s": [round(t, 3) for t in found[:MAX_SHOT_TIMES]],
        "capped": len(found) > MAX_SHOT_TIMES,
    }


def speech_dict(
    t: TrackSpeech, m: Measurements, layout: Sequence[dict[str, Any]], at: TimecodeAt
) -> dict[str, Any]:
    """One listened track: speech time and share, its segments (capped), its transcript."""
    expected = layout[t.position - 1] if t.position <= len(layout) else {}
    programme = m.media.duration_s or t.analysed_s
    return {
        "position": t.position,
        "role": expected.get("role"),
        "language": _stream_language(m.media, t.position),
        "expected_language": expected.get("language"),
        "analysed_s": t.analysed_s,
        "speech_s": round(t.speech_s, 3),
        "share": round(t.speech_s / programme, 4) if programme else None,
        "segment_count": len(t.segments),
        "segments": [
            {"start_s": round(s.start_s, 3), "end_s": round(s.end_s, 3)}
            for s in t.segments[:MAX_SPEECH_SEGMENTS]
        ],
        "segments_capped": len(t.segments) > MAX_SPEECH_SEGMENTS,
        "transcript": _transcript_dict(t.transcript, at) if t.transcript is not None else None,
        "transcription_error": t.transcription_error,
    }


def _stream_language(media: MediaInfo, position: int) -> str | None:
    return media.audio[position - 1].language if 0 < position <= len(media.audio) else None


def _transcript_dict(tr: Transcript, at: TimecodeAt) -> dict[str, Any]:
    return {
        "model": tr.model,
        "language": tr.language,
        "segment_count": len(tr.segments),
        "segments": [
            {
                "start_s": round(s.start_s, 3),
                "end_s": round(s.end_s, 3),
                "timecode_start": at(s.start_s),
                "timecode_end": at(s.end_s),
                "text": s.text,
            }
            for s in tr.segments[:MAX_TRANSCRIPT_SEGMENTS]
        ],
        "capped": len(tr.segments) > MAX_TRANSCRIPT_SEGMENTS,
        "audio_seconds_sent": round(tr.audio_seconds_sent, 3),
        "bytes_sent": tr.bytes_sent,
        "requests": tr.requests,
    }


# Words: the same in the text report, the HTML report and the dashboard.


SUBTITLE_COLUMNS = ("File", "Format", "Encoding", "Language", "Cues", "From", "To", "Notes")


def subtitle_file_words(f: dict[str, Any]) -> str:
    """``srt, UTF-8 with BOM, en — 412 cues from 10:00:01:05 to 10:41:55:10, 3 problems``."""
    head = ", ".join(p for p in (f.get("format"), _encoding(f), f.get("language")) if p)
    if f.get("error"):
        return f"{head} — {_notes(f)}"
    count = f.get("cue_count") or 0
    words = f"{count} cue{'s' if count != 1 else ''}"
    if count and f.get("first_cue_timecode"):
        words += f" from {f['first_cue_timecode']} to {f.get('last_cue_end_timecode') or '—'}"
    if notes := _notes(f):
        words += f", {notes}"
    return f"{head} — {words}" if head else words


def subtitle_file_columns(f: dict[str, Any]) -> tuple[str, ...]:
    """One row of the subtitle files table, under :data:`SUBTITLE_COLUMNS`."""
    read = not f.get("error")
    return (
        subtitle_file_label(f),
        str(f.get("format") or "—"),
        _encoding(f) or "—",
        str(f.get("language") or "—"),
        str(f.get("cue_count") or 0) if read else "—",
        str(f.get("first_cue_timecode") or "—"),
        str(f.get("last_cue_end_timecode") or "—"),
        _notes(f),
    )


def _notes(f: dict[str, Any]) -> str:
    if f.get("error"):
        return f"not read: {f['error']}"
    problems = f.get("problem_count") or 0
    return f"{problems} problem{'s' if problems != 1 else ''} reading it" if problems else ""


def _encoding(f: dict[str, Any]) -> str | None:
    encoding = f.get("encoding")
    if not encoding:
        return None
    name = "UTF-8" if encoding.lower() in ("utf-8", "utf-8-sig", "utf8") else encoding
    return f"{name} with BOM" if f.get("bom") else name


def subtitle_file_label(f: dict[str, Any]) -> str:
    """The file's name; an embedded stream's says where it sits in the container."""
    name = str(f.get("name") or "subtitles")
    index = f.get("stream_index")
    if index is None or name.startswith("stream"):
        return name
    return f"{name} (stream #{index})"


def unread_streams(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The container's subtitle streams that are not among the files (bitmap, or not read)."""
    streams = report.get("subtitle_streams") or []
    return [s for s in streams if s.get("status") in ("bitmap", "not_read")]


def subtitle_stream_words(s: dict[str, Any]) -> str:
    """``mov_text, eng — read`` or ``dvb_subtitle, fra — bitmap: present, not read``."""
    tags = ", ".join(p for p in (s.get("codec"), s.get("language"), _quoted(s.get("title"))) if p)
    status = STREAM_STATUS_WORDS.get(s.get("status") or "", s.get("status") or "")
    return f"{tags} — {status}"


def _quoted(text: str | None) -> str | None:
    return f"“{text}”" if text else None


def shot_changes_words(report: dict[str, Any]) -> str | None:
    """``312 shot changes`` when cuts were looked for; None when not (or an older report)."""
    shots = report.get("shot_changes") or {}
    if not shots.get("measured"):
        return None
    count = int(shots.get("count") or 0)
    return f"{count} shot change{'s' if count != 1 else ''} detected"


def clock(seconds: float | None) -> str:
    """``1:02:05`` or ``2:05``, to the second; ``4.8 s`` under a minute."""
    if seconds is None:
        return "—"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def speech_track_label(t: dict[str, Any]) -> str:
    """``Track 2 (dialogue, fra)``: the track, its role in the layout and its language."""
    tags = ", ".join(p for p in (t.get("role"), t.get("language")) if p)
    return f"Track {t['position']}" + (f" ({tags})" if tags else "")


def speech_words(t: dict[str, Any]) -> str:
    """``speech for 12:31 (29.8 % of the programme) in 210 segments``, or that there is none."""
    count = int(t.get("segment_count") or 0)
    if not count:
        return f"no speech heard in {clock(t.get('analysed_s'))}"
    share = t.get("share")
    part = f" ({share:.1%} of the programme)" if share is not None else ""
    return (
        f"speech for {clock(t.get('speech_s'))}{part} in {count} segment{'s' if count != 1 else ''}"
    )


def transcript_words(t: dict[str, Any]) -> str | None:
    """What became of the transcript: its model, language and cost, or why there is none.

    None when transcription was not asked for; ``transcription unavailable: …`` when it failed
    (the error is one sentence from the client, shown as it is)."""
    error = t.get("transcription_error")
    if error:
        text = str(error)
        return text if text.startswith("transcription") else f"transcription unavailable: {text}"
    tr = t.get("transcript")
    if not tr:
        return None
    count = int(tr.get("segment_count") or 0)
    language = f", language {tr['language']}" if tr.get("language") else ""
    sent = f"{_kilobytes(tr.get('bytes_sent'))} sent for {clock(tr.get('audio_seconds_sent'))}"
    return f"transcript by {tr.get('model')}{language}: {count} segments ({sent} of speech)"


def _kilobytes(value: int | None) -> str:
    size = (value or 0) / 1000
    return f"{size / 1000:.1f} MB" if size >= 1000 else f"{size:.0f} kB"


def transcript_lines(t: dict[str, Any]) -> list[tuple[str, str]]:
    """The transcript as ``(source timecode, text)`` lines, in programme order."""
    tr = t.get("transcript") or {}
    return [
        (str(s.get("timecode_start") or clock(s.get("start_s"))), str(s.get("text", "")).strip())
        for s in tr.get("segments") or []
    ]


def transcript_capped(t: dict[str, Any]) -> bool:
    """True when the stored transcript holds only its first MAX_TRANSCRIPT_SEGMENTS segments."""
    return bool((t.get("transcript") or {}).get("capped"))
