"""Timed-text checks: every subtitle file (sidecar or text stream) against ``[subtitles]``.

Each finding names the file and the cue (its number as an operator counts it, its text cut
to about 40 characters) and carries the cue's times, which the report shows as source
timecode. Frame counts are at the video's frame rate (25 fps without video). Timestamps in
SRT and WebVTT are whole milliseconds, so comparisons allow 1.5 ms.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator

from kickflow.checks.base import Context, Finding, Outcome, capped, plural, result, skip
from kickflow.media.model import Cue, SubtitleFile
from kickflow.subtitles.common import snippet
from kickflow.subtitles.encoding import family, label
from kickflow.subtitles.rules import FileRules, rules_for
from kickflow.subtitles.sniff import FORMATS
from kickflow.subtitles.text import language_key, line_width, markup_kinds, text_width

MAX_PER_FILE = 20  # findings of one check per file; a count stands for the rest
EPSILON_S = 0.0015
NO_FILES = "No subtitle files"

Judge = Callable[[SubtitleFile, Cue], str | None]


# --- helpers --------------------------------------------------------------------------------


def _readable(ctx: Context) -> list[SubtitleFile]:
    return [f for f in ctx.m.subtitles if f.error is None]


def _nothing_to_check(ctx: Context) -> Outcome | None:
    if not ctx.m.subtitles:
        return skip(NO_FILES)
    if not _readable(ctx):
        return skip("No subtitle file could be read (see subtitle.parse)")
    return None


def _fps(ctx: Context) -> float:
    return ctx.m.media.primary_frame_rate or 25.0


def _cue_finding(ctx: Context, f: SubtitleFile, cue: Cue, why: str) -> Finding:
    text = f" “{snippet(cue.text)}”" if cue.text else ""
    return ctx.finding(f"{f.name} cue {cue.number}{text}: {why}", cue.start_s, cue.end_s)


def _per_cue(ctx: Context, judge: Judge, noun: str, ok: str) -> Outcome:
    """Run ``judge`` on every cue of every readable file; at most MAX_PER_FILE findings
    per file, plus one counting the rest."""
    nothing = _nothing_to_check(ctx)
    if nothing is not None:
        return nothing
    found: list[Finding] = []
    for f in _readable(ctx):
        mine = [_cue_finding(ctx, f, cue, why) for cue in f.cues if (why := judge(f, cue))]
        found += capped(ctx, mine, MAX_PER_FILE, f"{noun} in {f.name}")
    return result(found, ok)


def _rules(ctx: Context) -> Callable[[SubtitleFile], FileRules]:
    """Each file's line length and reading speed rules, worked out once per file."""
    cache: dict[int, FileRules] = {}

    def of(f: SubtitleFile) -> FileRules:
        if id(f) not in cache:
            cache[id(f)] = rules_for(ctx.profile.subtitles, f)
        return cache[id(f)]

    return of


# --- the files ------------------------------------------------------------------------------


def check_files(ctx: Context) -> Outcome:
    """The subtitle files the profile requires: any at all, each required language, and an
    accepted format. Bitmap streams (DVB, PGS) count as present but cannot be read."""
    spec, files = ctx.profile.subtitles, ctx.m.subtitles
    bitmaps = [s for s in ctx.m.media.subtitles if not s.text]
    if not files and not bitmaps and not spec.required and not spec.languages:
        return skip(NO_FILES)
    found = []
    if spec.required and not files and not bitmaps:
        found.append(ctx.finding("No subtitle file was delivered; the profile requires one"))
    found += _missing_languages(ctx, files, [s.language for s in bitmaps])
    found += _refused_formats(ctx, files)
    found += [
        ctx.finding(
            f"Subtitle stream #{s.index} ({s.codec}) holds bitmap subtitles: present, not read",
            severity="info",
        )
        for s in bitmaps
    ]
    return result(found, _files_summary(files, len(bitmaps)))


def _missing_languages(
    ctx: Context, files: tuple[SubtitleFile, ...], bitmap_languages: list[str | None]
) -> list[Finding]:
    wanted = ctx.profile.subtitles.languages
    if not wanted:
        return []
    have = {language_key(f.language) for f in files} | {language_key(t) for t in bitmap_languages}
    found = [
        ctx.finding(f"No subtitle file in {tag}; the profile requires {', '.join(wanted)}")
        for tag in wanted
        if language_key(tag) not in have
    ]
    found += [
        ctx.finding(f"{f.name} does not say its language: name it like EP01.en.srt")
        for f in files
        if f.language is None and f.stream_index is None
    ]
    return found


def _refused_formats(ctx: Context, files: tuple[SubtitleFile, ...]) -> list[Finding]:
    accepted = ctx.profile.subtitles.formats
    if not accepted:
        return []
    words = [FORMATS[f] for f in accepted]
    names = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    return [
        ctx.finding(f"{f.name} is {FORMATS.get(f.format, f.format)}; the profile accepts {names}")
        for f in files
        if f.stream_index is None and f.error is None and f.format not in accepted
    ]


def _files_summary(files: tuple[SubtitleFile, ...], bitmaps: int) -> str:
    if not files:
        return f"No readable subtitles; {plural(bitmaps, 'bitmap stream')} (not read)"
    described = [
        f"{f.name} ({', '.join(p for p in (FORMATS.get(f.format, f.format), f.language) if p)})"
        for f in files
    ]
    return f"{plural(len(files), 'subtitle file')}: {', '.join(described)}"


def check_parse(ctx: Context) -> Outcome:
    """Files that cannot be read at all, and what in the others could not be read as written
    (with its line): malformed blocks and timings, cue numbers out of sequence …"""
    if not ctx.m.subtitles:
        return skip(NO_FILES)
    found: list[Finding] = []
    for f in ctx.m.subtitles:
        if f.error is not None:
            found.append(ctx.finding(f.error))
            continue
        mine = [
            ctx.finding(
                f"{f.name} line {p.line}: {p.message}" if p.line else f"{f.name}: {p.message}"
            )
            for p in f.problems
        ]
        found += capped(ctx, mine, MAX_PER_FILE, f"problems in {f.name}")
    cues = sum(len(f.cues) for f in ctx.m.subtitles)
    return result(found, f"Every subtitle file reads cleanly ({plural(cues, 'cue')})")


def check_encoding(ctx: Context) -> Outcome:
    """Sidecar files in an accepted encoding (UTF-8 unless the profile says otherwise), and a
    byte-order mark only where the profile allows one. Text streams FFmpeg extracts from the
    container come as UTF-8 whatever they were: they are not judged."""
    nothing = _nothing_to_check(ctx)
    if nothing is not None:
        return nothing
    spec = ctx.profile.subtitles
    allowed = [family(e) for e in spec.encodings]
    wanted = " or ".join(label(e) for e in allowed)
    found = []
    for f in _readable(ctx):
        if f.stream_index is not None or f.encoding is None:
            continue
        if family(f.encoding) not in allowed:
            found.append(
                ctx.finding(f"{f.name} is {label(f.encoding)}, not {wanted}{_first_bad(f)}")
            )
        if f.bom and not spec.allow_bom:
            found.append(
                ctx.finding(f"{f.name} starts with a byte-order mark; the profile refuses one")
            )
    return result(found, f"Every subtitle file is {wanted}")


def _first_bad(f: SubtitleFile) -> str:
    if f.encoding_line is None:
        return ""
    return f"; the first character that is not UTF-8 is on line {f.encoding_line}"


def check_empty(ctx: Context) -> Outcome:
    """Cues with no text, and files with no cues at all."""
    nothing = _nothing_to_check(ctx)
    if nothing is not None:
        return nothing
    found = [ctx.finding(f"{f.name} has no cues") for f in _readable(ctx) if not f.cues]
    other = _per_cue(
        ctx, lambda _f, cue: None if cue.text.strip() else "empty (no text)", "empty cues", ""
    )
    return result([*found, *other.findings], "Every cue has text")


# --- the text -------------------------------------------------------------------------------


def check_line_length(ctx: Context) -> Outcome:
    """Characters per line, counted as the spec counts them (subtitles/text.py:char_width):
    every character 1, spaces and punctuation included; in Chinese, Japanese and Korean
    full-width 1 and half-width 0.5, against that language's lower limit."""
    rules = _rules(ctx)

    def judge(f: SubtitleFile, cue: Cue) -> str | None:
        rule = rules(f)
        widths = [line_width(line, rule.cjk) for line in cue.text.split("\n")]
        worst = max(widths, default=0.0)
        if worst <= rule.max_chars_per_line:
            return None
        return (
            f"line {widths.index(worst) + 1} has {worst:g} characters "
            f"(max {rule.max_chars_per_line}{rule.why})"
        )

    return _per_cue(ctx, judge, "long lines", "No line is longer than its language allows")


def check_lines(ctx: Context) -> Outcome:
    most = ctx.profile.subtitles.max_lines

    def judge(_f: SubtitleFile, cue: Cue) -> str | None:
        count = len(cue.text.split("\n")) if cue.text else 0
        return f"{count} lines (max {most})" if count > most else None

    return _per_cue(
        ctx, judge, "cues with too many lines", f"No cue has more than {plural(most, 'line')}"
    )


def check_reading_speed(ctx: Context) -> Outcome:
    """Characters per second: the cue's characters, counted as for line length (spaces and
    punctuation count, line breaks do not, half-width 0.5 in CJK), over its duration."""
    rules = _rules(ctx)

    def judge(f: SubtitleFile, cue: Cue) -> str | None:
        rule, duration = rules(f), cue.end_s - cue.start_s
        if duration <= 0 or not cue.text:
            return None  # subtitle.duration and subtitle.empty report these
        cps = text_width(cue.text, rule.cjk) / duration
        if cps <= rule.max_cps + 1e-9:
            return None
        limit = f"max {rule.max_cps:g}{rule.why}"
        return f"{cps:.1f} characters per second over {duration:.2f} s ({limit})"

    return _per_cue(ctx, judge, "fast cues", "Every cue is within its reading speed")


def check_markup(ctx: Context) -> Outcome:
    forbidden = frozenset(ctx.profile.subtitles.forbidden_markup)
    if not forbidden:
        return _nothing_to_check(ctx) or result([], "The profile forbids no markup")

    def judge(f: SubtitleFile, cue: Cue) -> str | None:
        used = sorted(markup_kinds(cue.raw, f.format) & forbidden)
        return f"uses {', '.join(used)} markup, which the profile forbids" if used else None

    return _per_cue(ctx, judge, "cues with forbidden markup", "No cue uses forbidden markup")


# --- the timing -----------------------------------------------------------------------------


def check_duration(ctx: Context) -> Outcome:
    spec = ctx.profile.subtitles

    def judge(_f: SubtitleFile, cue: Cue) -> str | None:
        duration = cue.end_s - cue.start_s
        if duration < 0:
            return "ends before it starts"
        if duration + EPSILON_S < spec.min_duration_s:
            return f"lasts {duration:.3f} s, under the {spec.min_duration_s:g} s minimum"
        if duration - EPSILON_S > spec.max_duration_s:
            return f"lasts {duration:.2f} s, over the {spec.max_duration_s:g} s maximum"
        return None

    ok = f"Every cue lasts {spec.min_duration_s:g} s to {spec.max_duration_s:g} s"
    return _per_cue(ctx, judge, "cues too short or too long", ok)


def _in_time_order(f: SubtitleFile) -> Iterator[tuple[Cue, Cue]]:
    """(the earlier cue that ends last, a cue) for every cue after the first, in time order."""
    before: Cue | None = None
    for cue in sorted(f.cues, key=lambda c: (c.start_s, c.number)):
        if before is not None:
            yield before, cue
        if before is None or cue.end_s > before.end_s:
            before = cue


def _per_pair(
    ctx: Context, judge: Callable[[Cue, Cue], Finding | None], noun: str, ok: str
) -> Outcome:
    nothing = _nothing_to_check(ctx)
    if nothing is not None:
        return nothing
    found: list[Finding] = []
    for f in _readable(ctx):
        mine = [hit for before, cue in _in_time_order(f) if (hit := judge(before, cue))]
        found += capped(
            ctx, [_named(ctx, f, hit) for hit in mine], MAX_PER_FILE, f"{noun} in {f.name}"
        )
    return result(found, ok)


def _named(ctx: Context, f: SubtitleFile, hit: Finding) -> Finding:
    return ctx.finding(f"{f.name} {hit.message}", hit.start_s, hit.end_s)


def _cue_label(cue: Cue) -> str:
    return f"cue {cue.number}" + (f" “{snippet(cue.text)}”" if cue.text else "")


def check_overlap(ctx: Context) -> Outcome:
    """Cues shown at the same time as an earlier one (in time order, whatever the file order)."""

    def judge(before: Cue, cue: Cue) -> Finding | None:
        if cue.start_s >= before.end_s - EPSILON_S:
            return None
        overlap = min(before.end_s, cue.end_s) - cue.start_s
        message = f"{_cue_label(cue)}: overlaps cue {before.number} by {overlap:.3f} s"
        return ctx.finding(message, cue.start_s, min(before.end_s, cue.end_s))

    return _per_pair(ctx, judge, "overlaps", "No cue overlaps another")


def check_gap(ctx: Context) -> Outcome:
    """Gaps between consecutive cues shorter than the minimum (in frames), and, when the
    profile chains cues, gaps a little longer than the minimum that should be closed to it."""
    spec, fps = ctx.profile.subtitles, _fps(ctx)
    least, chain = spec.min_gap_frames, spec.chain_below_frames

    def judge(before: Cue, cue: Cue) -> Finding | None:
        gap = cue.start_s - before.end_s
        if gap < -EPSILON_S:
            return None  # an overlap: subtitle.overlap reports it
        frames = round(gap * fps)
        where = (
            f"{_cue_label(cue)}: starts {plural(frames, 'frame')} after cue {before.number} ends"
        )
        if frames < least:
            message = f"{where} (min {least} at {fps:.3g} fps)"
        elif least < frames < chain:
            message = f"{where}; close the gap to {least} (gaps under {chain} frames are chained)"
        else:
            return None
        return ctx.finding(message, before.end_s, cue.start_s)

    ok = f"Every gap between cues is at least {plural(least, 'frame')} at {fps:.3g} fps"
    return _per_pair(ctx, judge, "short gaps", ok)


def check_bounds(ctx: Context) -> Outcome:
    """Cues that start before the programme (a negative time) or run past its end (more than
    a frame after it)."""
    end, nothing = ctx.duration_s, _nothing_to_check(ctx)
    if nothing is not None or end is None:
        return nothing or skip("The programme's duration is unknown")
    frame = 1 / _fps(ctx)

    def judge(_f: SubtitleFile, cue: Cue) -> str | None:
        if cue.start_s < -EPSILON_S:
            return f"starts {-cue.start_s:.2f} s before the programme"
        if cue.start_s >= end:
            return f"starts after the programme ends ({end:.2f} s)"
        if cue.end_s > end + frame:
            return f"runs {cue.end_s - end:.2f} s past the programme end ({end:.2f} s)"
        return None

    return _per_cue(
        ctx, judge, "cues outside the programme", f"Every cue is within the programme ({end:.2f} s)"
    )


def check_shot_change(ctx: Context) -> Outcome:
    """Cue in-times near a cut should be on it; out-times near a cut should end the minimum
    gap before it (a cue that outlasts a cut by a few frames flashes over the new shot)."""
    spec = ctx.profile.subtitles
    window, cuts = spec.shot_change_frames, ctx.m.shot_changes
    nothing = _nothing_to_check(ctx)
    if nothing is not None:
        return nothing
    if window == 0:
        return skip("The profile does not check cues against shot changes")
    if cuts is None:
        return skip("Shot changes were not detected")
    ordered, fps = sorted(cuts), _fps(ctx)

    def judge(_f: SubtitleFile, cue: Cue) -> str | None:
        parts = []
        start = _nearest(ordered, cue.start_s, fps)
        if start is not None and 0 < abs(start[0]) <= window:
            parts.append(f"starts {_frames_from(start)}; start it on the cut")
        end = _nearest(ordered, cue.end_s, fps)
        if end is not None and abs(end[0]) <= window and end[0] != -spec.min_gap_frames:
            wanted = (
                f"{plural(spec.min_gap_frames, 'frame')} before it"
                if spec.min_gap_frames
                else "on it"
            )
            parts.append(f"ends {_frames_from(end)}; end it {wanted}")
        return "; ".join(parts) or None

    ok = f"No cue starts or ends within {plural(window, 'frame')} of a shot change"
    return _per_cue(ctx, judge, "cues near shot changes", ok)


def _nearest(cuts: list[float], t: float, fps: float) -> tuple[int, float] | None:
    """(frames from the nearest cut, negative before it; the cut's time), or None."""
    if not cuts:
        return None
    i = bisect.bisect_left(cuts, t)
    near = min(cuts[max(0, i - 1) : i + 1], key=lambda c: abs(c - t))
    return round((t - near) * fps), near


def _frames_from(offset: tuple[int, float]) -> str:
    frames, cut = offset
    if frames == 0:
        return f"on the shot change at {cut:.2f} s"
    side = "after" if frames > 0 else "before"
    return f"{plural(abs(frames), 'frame')} {side} the shot change at {cut:.2f} s"
