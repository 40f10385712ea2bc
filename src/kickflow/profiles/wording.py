"""A profile in plain words: one sentence per rule, grouped by section, for people who read a
delivery spec rather than its TOML (the Profiles page). Every setting of the model appears in
some sentence (a unit test changes each one and expects the wording to change)."""

from __future__ import annotations

from collections.abc import Sequence

from kickflow.profiles.model import (
    CHECK_IDS,
    TRACK_CHECKS,
    Profile,
    SegmentSpec,
    Severity,
    TrackSpec,
)
from kickflow.profiles.subtitle_wording import describe_subtitles

Described = list[tuple[str, str]]

SCAN_WORDS = {
    "progressive": "progressive",
    "tff": "interlaced top field first",
    "bff": "interlaced bottom field first",
    "unknown": "unknown",
}
SEVERITY_WORDS: dict[Severity, str] = {
    "error": "Errors (the file fails)",
    "warning": "Warnings (the file needs review)",
    "info": "Notes (reported, no effect on the verdict)",
    "off": "Not checked",
}


def describe(profile: Profile) -> Described:
    """``(section, sentence)`` pairs, in the order a reader checks a delivery."""
    return [
        *_loudness(profile),
        *_container(profile),
        *_video(profile),
        *_audio(profile),
        ("Black frames", _segment("Black pictures", profile.black)),
        ("Frozen pictures", _segment("Frozen pictures", profile.freeze)),
        ("Silence", _segment("Silent passages", profile.silence)),
        *_pictures(profile),
        *_sound(profile),
        *_music_bed(profile),
        *_detection(profile),
        *_delivery(profile),
        *describe_subtitles(profile.subtitles),
        *_speech(profile),
        *_transcription(profile),
        *_severities(profile),
    ]


def _delivery(profile: Profile) -> Described:
    pattern = profile.delivery.file_name
    if pattern is None:
        return [("Delivery", "Any file name is accepted (no file-name convention).")]
    return [("Delivery", f"File names must follow {pattern}; the parts are in the report.")]


def _speech(p: Profile) -> Described:
    spec = p.speech
    when = "when the delivery has subtitles" if spec.enabled is None else "never"
    when = "always" if spec.enabled else when
    original = f"track {spec.original_track}" if spec.original_track else "the first dialogue"
    original += "" if spec.original_track else " or mix track"
    dubs = (
        "tracks " + ", ".join(str(t) for t in spec.dub_tracks)
        if spec.dub_tracks
        else "every language track"
    )
    expected = "is reported" if spec.expect_speech else "is accepted"
    return [
        (
            "Speech",
            f"The dialogue, mix and language tracks are listened to {when}: speech starts at "
            f"a voice probability of {num(spec.vad_threshold)}, lasts at least "
            f"{num(spec.min_speech_s)} s, ends after {num(spec.min_silence_s)} s of pause and "
            f"is padded by {num(spec.pad_s)} s.",
        ),
        (
            "Speech",
            f"A listened track without speech {expected}; a dialogue track silent for more "
            f"than {num(spec.max_speechless_s)} s is reported.",
        ),
        (
            "Speech",
            f"Subtitles must be within {num(spec.sync_tolerance_s)} s of the speech (offset, "
            f"or drift over the programme), with speech under at least "
            f"{_share(spec.min_cues_with_speech)} of the cues.",
        ),
        (
            "Speech",
            f"Dubs ({dubs}) are compared with the original ({original}): missing and extra "
            f"lines are reported, and lines starting more than {num(spec.dub_tolerance_s)} s "
            "away from the original's.",
        ),
    ]


def _transcription(p: Profile) -> Described:
    spec = p.speech.transcription
    failing = "fails the file" if spec.required else "is a warning; the file is still judged"
    budget = f"at most {num(spec.max_minutes_per_job)} minutes per file"
    sent = (
        f"The speech (only the speech) of the listened tracks is transcribed, {budget}; a "
        f"transcript missing because the provider failed or the budget ran out {failing}."
        if spec.enabled
        else f"Speech is not sent for transcription (when it is: {budget}, and a missing "
        f"transcript {failing})."
    )
    hint = (
        "the provider is told each track's language, so the spoken language is not checked"
        if spec.language_hint
        else "the language the provider hears must be the track's expected language"
    )
    return [
        ("Transcription", sent),
        ("Transcription", f"With {num(spec.min_language_speech_s)} s of speech or more, {hint}."),
        ("Transcription", "Subtitle files must be written in the language they declare."),
    ]


def num(value: float) -> str:
    """A number as people write it: no trailing zeros (-23, 0.5, 48000)."""
    return f"{value:g}"


def one_of(values: Sequence[object], unit: str = "") -> str:
    words = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return f"{listed}{unit}"


def _rule(what: str, values: Sequence[object], unit: str = "") -> str:
    if not values:
        return f"{what}: any."
    return f"{what} must be {one_of(values, unit)}."


def _loudness(p: Profile) -> Described:
    spec = p.loudness
    lra = (
        "Loudness range (LRA) is measured but not limited."
        if spec.max_lra_lu is None
        else f"Loudness range (LRA) must be at most {num(spec.max_lra_lu)} LU."
    )
    return [
        (
            "Loudness",
            f"Integrated loudness must be {num(spec.target_lufs)} LUFS, accepted from "
            f"{num(spec.min_lufs)} to {num(spec.max_lufs)} LUFS "
            f"({num(spec.tolerance_below_lu)} LU below, {num(spec.tolerance_above_lu)} LU above), "
            f"measured as {spec.standard}.",
        ),
        ("Loudness", f"True peak must not exceed {num(spec.max_true_peak_dbtp)} dBTP."),
        ("Loudness", lra),
    ]


def _container(p: Profile) -> Described:
    spec = p.container
    raw = "accepted" if spec.allow_raw_pcm else "refused (they decode from any bytes)"
    return [
        ("Container", _rule("Container format", spec.formats)),
        (
            "Container",
            f"Audio and video durations may differ by at most "
            f"{num(spec.max_av_duration_mismatch_s)} s.",
        ),
        ("Container", f"Headerless raw PCM files are {raw}."),
    ]


def _video(p: Profile) -> Described:
    spec = p.video
    required = "required" if spec.required else "optional (an audio-only file is fine)"
    rates = (
        f"Frame rate must be {one_of(spec.frame_rates, ' fps')} "
        f"(within ±{num(spec.frame_rate_tolerance)})."
        if spec.frame_rates
        else "Frame rate: any."
    )
    sampling = (
        "Every frame is analysed, so single-frame flashes are caught."
        if spec.frame_accurate
        else f"Pictures are analysed at {num(spec.sample_fps)} frames per second "
        "(a single-frame flash may be missed)."
    )
    return [
        ("Video", f"A video stream is {required}."),
        ("Video", _rule("Video codec", spec.codecs)),
        ("Video", _rule("Resolution", spec.resolutions)),
        ("Video", rates),
        ("Video", f"Variable frame rate is {'allowed' if spec.allow_vfr else 'refused'}."),
        ("Video", _rule("Scan", [SCAN_WORDS[s] for s in spec.scan])),
        ("Video", _rule("Pixel format", spec.pix_fmts)),
        ("Video", sampling),
    ]


def _audio(p: Profile) -> Described:
    spec = p.audio
    required = "required" if spec.required else "optional"
    return [
        ("Audio", f"An audio stream is {required}."),
        ("Audio", _rule("Audio codec", spec.codecs)),
        ("Audio", _rule("Sample rate", [f"{r / 1000:g} kHz" for r in spec.sample_rates])),
        ("Audio", _rule("Channel count", spec.channels)),
        ("Audio", _declared_layout(p)),
        ("Audio", _tracks(p)),
    ]


def _declared_layout(p: Profile) -> str:
    layout = p.audio.channel_layout
    if layout is None:
        return "Multichannel audio that does not declare its layout is reported."
    return f"Multichannel audio that does not declare its layout is taken as {layout}."


def _tracks(p: Profile) -> str:
    tracks = p.audio.tracks
    if not tracks and not p.audio.groups:
        return "Track layout: none; every audio track is judged by the same rules."
    words = [f"{i}. {_track(p, t)}" for i, t in enumerate(tracks, 1)]
    groups = [
        f"{g.name} = tracks {', '.join(str(n) for n in g.tracks)} as {g.layout}"
        + ("" if g.loudness else " (not loudness-targeted)")
        for g in p.audio.groups
    ]
    measured = f" Measured together: {'; '.join(groups)}." if groups else ""
    return f"Audio tracks, in this order: {'; '.join(words)}.{measured}"


def _track(p: Profile, t: TrackSpec) -> str:
    shape = t.layout or (f"{t.channels} channels" if t.channels else "any layout")
    parts = [f"{shape} {t.channel + ' ' if t.channel else ''}{t.role}"]
    if t.expected_language:
        parts.append(f"language {t.expected_language}")
    if t.title:
        parts.append(f"title mentions “{t.title}”")
    if not t.loudness:
        parts.append("no loudness target, must not be silent")
    elif t.target_lufs is not None:
        parts.append(f"target {num(t.target_lufs)} LUFS")
    left_out = [c.removeprefix("audio.") for c in TRACK_CHECKS if c not in t.checks]
    if left_out:
        parts.append(f"not checked: {', '.join(left_out)}")
    return ", ".join(parts)


def _segment(what: str, spec: SegmentSpec) -> str:
    allowed = []
    if spec.head_allowed_s:
        allowed.append(f"the first {num(spec.head_allowed_s)} s")
    if spec.tail_allowed_s:
        allowed.append(f"the last {num(spec.tail_allowed_s)} s")
    where = f", except within {' and '.join(allowed)}" if allowed else ", anywhere in the file"
    return f"{what} lasting {num(spec.min_s)} s or longer are reported{where}."


def _share(value: float) -> str:
    return f"{value * 100:g} %"


def _lasting(min_s: float) -> str:
    return ", however briefly" if min_s == 0 else f" when it lasts {num(min_s)} s or longer"


def _pictures(p: Profile) -> Described:
    return [
        (
            "Levels",
            f"Pictures with more than {_share(p.levels.max_out_of_range)} of their pixels "
            f"outside broadcast-legal levels are reported{_lasting(p.levels.min_s)}.",
        ),
        (
            "Letterbox",
            f"Black bars of at least {_share(p.letterbox.min_bar_share)} of the height or "
            "width on a side are reported.",
        ),
        (
            "Interlace",
            f"Interlaced pictures are reported when they last {num(p.interlace.min_s)} s or "
            "longer.",
        ),
        ("Flashes (PSE)", _pse(p)),
    ]


def _pse(p: Profile) -> str:
    spec = p.pse
    if not spec.enabled:
        return "Not screened for flashes."
    red = (
        "; saturated-red flashes are screened the same way and each is reported"
        if spec.red_rule
        else "; the saturated-red rule is off"
    )
    return (
        f"Every frame is screened (not a certified Harding test): more than "
        f"{spec.max_flashes_per_s} flashes in any second over more than {_share(spec.max_area)} "
        f"of the screen fail; a flash is a pair of opposite changes of at least "
        f"{num(spec.min_change_cd_m2)} cd/m² whose darker side is below "
        f"{num(spec.max_dark_cd_m2)} cd/m², on a display peaking at {num(spec.peak_cd_m2)} "
        f"cd/m²{red}."
    )


def _sound(p: Profile) -> Described:
    clip, ch, ph = p.clipping, p.channels, p.phase
    windows = (
        "Any clipped audio window is reported"
        if clip.max_clipped_windows == 0
        else f"More than {clip.max_clipped_windows} clipped audio windows are reported"
    )
    lfe = "the LFE channel is left out" if ch.ignore_lfe else "the LFE channel counts too"
    mono = "is reported" if ph.flag_mono_as_stereo else "is accepted"
    return [
        ("Clipping", f"{windows}{_lasting(clip.min_s)}."),
        (
            "Channels",
            f"A channel is reported dead when it is silent for {_share(ch.dead_share)} of the "
            f"programme or for one run of {num(ch.dead_min_s)} s; {lfe}.",
        ),
        (
            "DC offset",
            f"A channel whose mean DC offset exceeds {_share(p.dc_offset.max_abs)} of full "
            "scale is reported.",
        ),
        (
            "Phase",
            f"Stereo phase is reported when the mean correlation is below "
            f"{num(ph.min_mean_correlation)} or the channels stay out of phase for "
            f"{num(ph.out_of_phase_min_s)} s; mono carried as stereo {mono}.",
        ),
    ]


def _music_bed(p: Profile) -> Described:
    spec = p.music_bed
    roles = ", ".join(("me", *spec.roles))
    return [
        (
            "Music bed",
            f"Tracks with the role {roles} must carry music or effects (a heuristic on 3-s "
            f"blocks): a block is silent when its loud windows are below "
            f"{num(spec.silent_below_dbfs)} dBFS; it has a bed when its level floor stays at "
            f"or above {num(spec.min_floor_dbfs)} dBFS and within {num(spec.max_dip_db)} dB of "
            f"its median for at least {num(spec.min_continuous_s)} s, or when at least "
            f"{_share(spec.min_active_share)} of it is active and "
            f"{_share(spec.min_noise_share)} of that is noise-like (effects).",
        ),
        (
            "Music bed",
            f"A track with a bed on less than {_share(spec.min_bed_share)} of its blocks is "
            f"reported, and so is every stretch of {num(spec.missing_min_s)} s or more "
            "without one.",
        ),
    ]


def _detection(p: Profile) -> Described:
    d = p.detect
    return [
        (
            "Detection",
            f"A pixel darker than {_share(d.black_pixel_threshold)} of full brightness counts as "
            f"black, a picture with at least {_share(d.black_picture_threshold)} black pixels "
            f"as a black picture, and black runs are detected from {num(d.black_min_s)} s.",
        ),
        (
            "Detection",
            f"A picture that differs from the one before by less than a "
            f"{num(d.freeze_noise_db)} dB noise floor counts as frozen; frozen runs are detected "
            f"from {num(d.freeze_min_s)} s.",
        ),
        (
            "Detection",
            f"Audio below {num(d.silence_threshold_db)} dB counts as silence; silent runs are "
            f"detected from {num(d.silence_min_s)} s.",
        ),
        (
            "Detection",
            f"An audio window peaking at {num(d.clip_peak_dbfs)} dBFS or above counts as clipped.",
        ),
    ]


def _severities(p: Profile) -> Described:
    by_level: dict[Severity, list[str]] = {}
    for check in CHECK_IDS:
        by_level.setdefault(p.severity_of(check), []).append(check)
    return [
        ("Findings", f"{words}: {', '.join(by_level[level])}.")
        for level, words in SEVERITY_WORDS.items()
        if level in by_level
    ]
