"""Audio tracks against the profile's layout: which spec judges which track, and the layout check.

A track is judged by the layout entry at its position (the layout says what track 2 must be);
a track beyond the layout gets the profile's defaults. A layout that does not match the file is a
finding of ``audio.layout`` (missing, extra, mis-ordered tracks, language or title), never an
error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kickflow.checks.base import Context, Finding, Outcome, plural, result, skip
from kickflow.media.model import AudioAnalysis, AudioStream, AudioTrack, Loudness
from kickflow.profiles.model import LAYOUT_CHANNELS, TRACK_CHECKS, TrackSpec

ROLE_WORDS = {"mix": "mix", "dialogue": "dialogue", "me": "M&E", "stem": "stem"}


@dataclass(frozen=True)
class TrackView:
    """One audio track as a check sees it: its measurements, its layout entry, its label."""

    position: int
    stream: AudioStream | None
    loudness: Loudness | None
    audio: AudioAnalysis | None
    spec: TrackSpec | None
    named: bool  # prefix messages with the track's label (several tracks, or a layout)

    @property
    def label(self) -> str:
        """``Track 2 (5.1, fra)``."""
        return f"Track {self.position} ({describe_stream(self.stream)})"

    def says(self, message: str) -> str:
        return f"{self.label}: {message}" if self.named else message

    def applies(self, check: str) -> bool:
        """The layout entry leaves ``check`` on (checks a layout cannot name always apply)."""
        return self.spec is None or check not in TRACK_CHECKS or check in self.spec.checks


def describe_stream(stream: AudioStream | None) -> str:
    """``5.1, fra`` — the layout (or channel count), the language tag and the title if any."""
    if stream is None:
        return "not analysed"
    parts = [stream.layout or plural(stream.channels, "channel")]
    parts += [p for p in (stream.language, _quoted(stream.title)) if p]
    return ", ".join(parts)


def _quoted(title: str | None) -> str | None:
    return f"“{title}”" if title else None


def describe_spec(spec: TrackSpec) -> str:
    """``5.1 mix``, ``stereo M&E``, ``mono L stem``, ``stereo language:fra``."""
    role = ROLE_WORDS.get(spec.role, spec.role)
    shape = spec.layout or (plural(spec.channels, "channel") if spec.channels else "")
    parts = [shape, spec.channel or "", role]
    return " ".join(p for p in parts if p)


def track_views(ctx: Context) -> list[TrackView]:
    """Every analysed audio track with the layout entry that judges it, in file order."""
    layout = ctx.profile.audio.tracks
    tracks = list(ctx.m.audio_tracks) or _single_track(ctx)
    named = len(tracks) > 1 or bool(layout)
    return [
        TrackView(
            position=t.position,
            stream=t.stream,
            loudness=t.loudness,
            audio=t.audio,
            spec=layout[t.position - 1] if t.position <= len(layout) else None,
            named=named,
        )
        for t in tracks
    ]


def _single_track(ctx: Context) -> list[AudioTrack]:
    """Measurements made before per-track analysis (or by hand): track 1 only."""
    m = ctx.m
    if m.loudness is None or m.audio is None:
        return []
    streams = [s for s in m.media.audio if s.index == m.audio.stream_index] or list(m.media.audio)
    if not streams:
        return []
    return [AudioTrack(1, streams[0], m.loudness, m.audio)]


TrackJudge = Callable[[Context, TrackView], Outcome]


def per_track(
    ctx: Context, judge: TrackJudge, *, no_audio: Outcome, only: Sequence[TrackView] | None = None
) -> Outcome:
    """Run ``judge`` on every track the check applies to; one summary over all of them."""
    views = [v for v in (track_views(ctx) if only is None else only) if v.applies(ctx.check)]
    if not views:
        if track_views(ctx):
            return skip("The layout applies this check to no track")
        return no_audio
    findings: list[Finding] = []
    oks: list[str] = []
    skipped: list[str] = []
    for view in views:
        outcome = judge(ctx, view)
        if outcome.skipped is not None:
            skipped.append(view.says(outcome.skipped))
            continue
        findings += outcome.findings
        oks.append(view.says(outcome.ok) if outcome.ok else "")
    if not oks:
        return skip("; ".join(skipped))
    return result(findings, "; ".join(o for o in oks + skipped if o))


def check_layout(ctx: Context) -> Outcome:
    """The audio tracks against the layout: count, order, shape, language tag, title."""
    layout = ctx.profile.audio.tracks
    streams = ctx.m.media.audio
    found = [ctx.finding(p) for p in _unanalysed(ctx)]
    if not layout:
        return result(found, f"{plural(len(streams), 'audio track')}; the profile sets no layout")
    found += [ctx.finding(p) for p in layout_problems(layout, streams)]
    found += [
        ctx.finding(p, severity="warning" if ctx.severity == "error" else None)
        for p in label_problems(layout, streams)
    ]
    ok = f"{plural(len(streams), 'audio track')} match the layout ({_layout_words(layout)})"
    return result(found, ok)


def _layout_words(layout: Sequence[TrackSpec]) -> str:
    return ", ".join(describe_spec(s) for s in layout)


def _unanalysed(ctx: Context) -> list[str]:
    skipped = ctx.m.unanalysed_audio
    if not skipped:
        return []
    analysed = len(ctx.m.media.audio) - skipped
    return [
        f"Tracks {analysed + 1}–{len(ctx.m.media.audio)} were not analysed: the analysis covers "
        f"the first {plural(analysed, 'audio track')} of a file"
    ]


def fits(spec: TrackSpec, stream: AudioStream) -> bool:
    """The stream has the spec's shape and, where both are known, its language and title."""
    return (
        shape_fits(spec, stream)
        and _language_fits(spec, stream) is not False
        and _title_fits(spec, stream) is not False
    )


def shape_fits(spec: TrackSpec, stream: AudioStream) -> bool:
    if spec.layout and stream.layout and stream.layout.split("(")[0] in LAYOUT_CHANNELS:
        return spec.layout.split("(")[0] == stream.layout.split("(")[0]
    expected = spec.expected_channels
    return expected is None or expected == stream.channels


def _language_fits(spec: TrackSpec, stream: AudioStream) -> bool | None:
    """None when it cannot be told (no expected language, or an untagged stream)."""
    expected = spec.expected_language
    if not expected or not stream.language:
        return None
    return _same_language(expected, stream.language)


def _same_language(a: str, b: str) -> bool:
    # "fr", "fra", "fre" and "fr-FR" name one language; compare the primary subtags' first letters
    # only when one side is a two-letter code (no ISO 639 table here).
    x, y = a.lower().split("-")[0], b.lower().split("-")[0]
    if len(x) == len(y):
        return x == y or {x, y} in ({"fra", "fre"}, {"deu", "ger"}, {"zho", "chi"})
    short, long = sorted((x, y), key=len)
    return long.startswith(short)


def _title_fits(spec: TrackSpec, stream: AudioStream) -> bool | None:
    if not spec.title or not stream.title:
        return None
    return spec.title.lower() in stream.title.lower()


def layout_problems(layout: Sequence[TrackSpec], streams: Sequence[AudioStream]) -> list[str]:
    """Missing, extra and mis-ordered tracks, and tracks of the wrong shape."""
    problems: list[str] = []
    moved = misplaced(layout, streams)
    for i, stream in enumerate(streams[: len(layout)]):
        spec, label = layout[i], f"Track {i + 1} ({describe_stream(stream)})"
        if i in moved:
            j = moved[i]
            problems.append(
                f"{label} is in the wrong place: it fits layout track {j + 1} "
                f"({describe_spec(layout[j])}), but track {i + 1} should be {describe_spec(spec)}"
            )
        elif not shape_fits(spec, stream):
            problems.append(f"{label}: the layout expects {describe_spec(spec)} here")
    for i in range(len(streams), len(layout)):
        problems.append(
            f"Track {i + 1} ({describe_spec(layout[i])}) is missing: the file has "
            f"{plural(len(streams), 'audio track')}, the layout {len(layout)}"
        )
    for i in range(len(layout), len(streams)):
        problems.append(
            f"Track {i + 1} ({describe_stream(streams[i])}) is not in the layout "
            f"({plural(len(layout), 'track')} expected)"
        )
    return problems


def misplaced(layout: Sequence[TrackSpec], streams: Sequence[AudioStream]) -> dict[int, int]:
    """Track position -> the other layout position it fits, for tracks out of order."""
    moved: dict[int, int] = {}
    for i, stream in enumerate(streams[: len(layout)]):
        if fits(layout[i], stream):
            continue
        for j, other in enumerate(layout):
            taken = j < len(streams) and fits(other, streams[j])
            if j != i and not taken and _evidence(layout[i], other, stream):
                moved[i] = j
                break
    return moved


def _evidence(own: TrackSpec, other: TrackSpec, stream: AudioStream) -> bool:
    """The stream positively belongs to ``other``: its shape rules its own place out, or its
    language or title matches the other entry (unknown tags are no evidence)."""
    if not fits(other, stream):
        return False
    return (
        not shape_fits(own, stream)
        or _language_fits(other, stream) is True
        or _title_fits(other, stream) is True
    )


def label_problems(layout: Sequence[TrackSpec], streams: Sequence[AudioStream]) -> list[str]:
    """Language tags and titles that disagree with (or are missing for) the layout's tracks."""
    problems: list[str] = []
    moved = misplaced(layout, streams)
    for i, (spec, stream) in enumerate(zip(layout, streams, strict=False)):
        if i in moved or not shape_fits(spec, stream):
            continue  # already reported as a shape or order problem
        label = f"Track {i + 1} ({describe_stream(stream)})"
        language = spec.expected_language
        if language and not stream.language:
            problems.append(f"{label} has no language tag; the layout expects {language}")
        elif _language_fits(spec, stream) is False:
            problems.append(f"{label} is tagged {stream.language}; the layout expects {language}")
        if _title_fits(spec, stream) is False:
            problems.append(f"{label}: the title does not mention “{spec.title}”")
    return problems


__all__ = ["TRACK_CHECKS", "TrackView", "check_layout", "per_track", "track_views"]
