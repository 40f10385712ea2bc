"""Audio checks: presence, format, loudness, true peak, silence, clipping, channels, phase."""

from __future__ import annotations

from dataclasses import replace

from kickflow.checks.audio_signal import layout_problems
from kickflow.checks.base import (
    Context,
    Finding,
    Outcome,
    capped,
    listed,
    plural,
    result,
    seconds,
    skip,
    span,
)
from kickflow.checks.segments import counted, subtract, total_s, where
from kickflow.checks.tracks import TrackView, per_track
from kickflow.media.model import AudioAnalysis, AudioStream, GroupLoudness, Loudness, Segment
from kickflow.profiles.model import LoudnessSpec

MAX_LISTED = 50
ABSOLUTE_GATE_LUFS = -70.0  # BS.1770: blocks below this never count


def _skip_audio(ctx: Context) -> Outcome:
    if not ctx.m.media.audio:
        return skip("No audio stream")
    return skip("The audio was not analysed")


def check_missing(ctx: Context) -> Outcome:
    """An audio stream exists when the profile requires one."""
    count = len(ctx.m.media.audio)
    if count:
        return result([], f"{plural(count, 'audio stream')} present")
    if not ctx.profile.audio.required:
        return skip("No audio stream, and the profile does not require one")
    return result([ctx.finding(f"No audio stream; profile {ctx.profile.name} requires audio")], "")


def check_format(ctx: Context) -> Outcome:
    """Codec, sample rate and channel count of every audio stream."""
    if not ctx.m.media.audio:
        return skip("No audio stream")
    found = [ctx.finding(p) for s in ctx.m.media.audio for p in _format_problems(ctx, s)]
    found += [ctx.finding(p) for p in layout_problems(ctx)]
    first = ctx.m.media.audio[0]
    layout = first.layout or plural(first.channels, "channel")
    more = len(ctx.m.media.audio) - 1
    rest = f" (and {plural(more, 'other track')})" if more else ""
    return result(
        found, f"Audio format conforms: {first.codec} {first.sample_rate} Hz {layout}{rest}"
    )


def _format_problems(ctx: Context, s: AudioStream) -> list[str]:
    spec, label = ctx.profile.audio, f"Audio stream {s.index}"
    problems: list[str] = []
    if spec.codecs and s.codec not in spec.codecs:
        problems.append(f"{label}: codec {s.codec} is not one of {listed(spec.codecs)}")
    if spec.sample_rates and s.sample_rate not in spec.sample_rates:
        allowed = listed(spec.sample_rates)
        problems.append(f"{label}: sample rate {s.sample_rate} Hz is not one of {allowed} Hz")
    if spec.channels and s.channels not in spec.channels:
        allowed = listed(spec.channels)
        problems.append(f"{label}: {plural(s.channels, 'channel')}; the profile allows {allowed}")
    return problems


def check_loudness(ctx: Context) -> Outcome:
    """Integrated loudness within the target range; loudness range under its maximum."""
    outcome = per_track(ctx, _track_loudness, no_audio=_skip_audio(ctx))
    groups = [_group_loudness(ctx, g) for g in ctx.m.audio_groups]
    judged = [g for g in groups if g is not None]
    if not judged:
        return outcome
    found = [*outcome.findings, *(f for g in judged for f in g.findings)]
    oks = [outcome.ok or outcome.skipped or "", *(g.ok for g in judged)]
    return result(found, "; ".join(o for o in oks if o))


def _group_loudness(ctx: Context, group: GroupLoudness) -> Outcome | None:
    """A channel group (discrete mono tracks as one programme) against its target."""
    spec = next((g for g in ctx.profile.audio.groups if g.name == group.name), None)
    if spec is None or not spec.loudness:
        return None
    loudness = ctx.profile.loudness
    if spec.target_lufs is not None:
        loudness = loudness.model_copy(update={"target_lufs": spec.target_lufs})
    tolerance = f"−{loudness.tolerance_below_lu:g}/+{loudness.tolerance_above_lu:g} LU"
    target = f"{loudness.target_lufs:g} LUFS ({tolerance})"
    members = ", ".join(str(p) for p in group.positions)
    label = f"Group “{group.name}” ({group.layout}, tracks {members})"
    problem = _integrated_problem(group.loudness.integrated_lufs, loudness, target)
    found = [ctx.finding(f"{label}: {problem}")] if problem else []
    return result(found, f"{label}: {_loudness_ok(group.loudness, target)}")


def _track_loudness(ctx: Context, view: TrackView) -> Outcome:
    loud = view.loudness
    if loud is None:
        return skip("The audio was not analysed")
    spec = ctx.profile.loudness
    if view.spec is not None and not view.spec.loudness:
        return _untargeted(ctx, view, loud)
    if view.spec is not None and view.spec.target_lufs is not None:
        spec = spec.model_copy(update={"target_lufs": view.spec.target_lufs})
    tolerance = f"−{spec.tolerance_below_lu:g}/+{spec.tolerance_above_lu:g} LU"
    target = f"{spec.target_lufs:g} LUFS ({tolerance})"
    problems = [_integrated_problem(loud.integrated_lufs, spec, target)]
    limit, lra = spec.max_lra_lu, loud.range_lu
    if limit is not None and lra is not None and lra > limit:
        problems.append(f"Loudness range {lra:.1f} LU exceeds {limit:g} LU")
    found = [ctx.finding(view.says(p)) for p in problems if p is not None]
    return result(found, _loudness_ok(loud, target))


def _untargeted(ctx: Context, view: TrackView, loud: Loudness) -> Outcome:
    """A track with no loudness target (M&E) must still carry signal."""
    if loud.integrated_lufs is None:
        gate = f"{ABSOLUTE_GATE_LUFS:g} LUFS gate"
        message = f"The track is silent: its loudness is below the {gate}"
        return result([ctx.finding(view.says(message))], "")
    return result([], f"No loudness target; integrated {loud.integrated_lufs:.1f} LUFS")


def _integrated_problem(value: float | None, spec: LoudnessSpec, target: str) -> str | None:
    if value is None:
        gate = f"{ABSOLUTE_GATE_LUFS:g} LUFS gate"
        return f"Integrated loudness is below the {gate} (silent or nearly so); target {target}"
    if spec.min_lufs <= value <= spec.max_lufs:
        return None
    off = value - spec.target_lufs
    side = "above" if off > 0 else "below"
    return f"Integrated loudness {value:.1f} LUFS is {abs(off):.1f} LU {side} target {target}"


def _loudness_ok(loud: Loudness, target: str) -> str:
    if loud.integrated_lufs is None:
        return "Integrated loudness is below the gate"
    lra = f", LRA {loud.range_lu:.1f} LU" if loud.range_lu is not None else ""
    return f"Integrated loudness {loud.integrated_lufs:.1f} LUFS within {target}{lra}"


def check_true_peak(ctx: Context) -> Outcome:
    """Maximum true peak (dBTP) not above the profile's ceiling."""
    return per_track(ctx, _track_true_peak, no_audio=_skip_audio(ctx))


def _track_true_peak(ctx: Context, view: TrackView) -> Outcome:
    loud = view.loudness
    if loud is None:
        return skip("The audio was not analysed")
    if loud.true_peak_dbtp is None:
        return skip("True peak was not measured (no signal)")
    limit, peak = ctx.profile.loudness.max_true_peak_dbtp, loud.true_peak_dbtp
    ok = f"True peak {peak:.1f} dBTP, max {limit:g} dBTP"
    if peak <= limit:
        return result([], ok)
    channels = [
        f"ch{i} {p:.1f}" for i, p in enumerate(loud.channel_true_peaks_dbtp, 1) if p is not None
    ]
    detail = f" ({', '.join(channels)})" if channels else ""
    message = view.says(f"True peak {peak:.1f} dBTP exceeds {limit:g} dBTP{detail}")
    return result([ctx.finding(message)], ok)


def check_silence(ctx: Context) -> Outcome:
    """Silent runs of the whole mix long enough to count, outside the allowed head and tail."""
    return per_track(ctx, _track_silence, no_audio=_skip_audio(ctx))


def _track_silence(ctx: Context, view: TrackView) -> Outcome:
    audio = view.audio
    if audio is None:
        return skip("The audio was not analysed")
    spec, duration = ctx.profile.silence, ctx.duration_s
    found = [
        ctx.at(s, view.says(f"Silence for {span(s)}{where(s, duration)}"))
        for s in counted(audio.silence, spec, duration)
    ]
    ok = f"No silence of {seconds(spec.min_s)} or more outside the allowed head and tail"
    return result(capped(ctx, found, MAX_LISTED, "silent runs"), ok)


def check_clipping(ctx: Context) -> Outcome:
    """Runs of analysis windows whose peak is at or near full scale."""
    return per_track(ctx, _track_clipping, no_audio=_skip_audio(ctx))


def _track_clipping(ctx: Context, view: TrackView) -> Outcome:
    audio = view.audio
    if audio is None:
        return skip("The audio was not analysed")
    spec = ctx.profile.clipping
    ok = f"{audio.clipped_windows} of {audio.windows} windows at full scale"
    if audio.clipped_windows <= spec.max_clipped_windows:
        return result([], ok + f" (max {spec.max_clipped_windows})")
    runs = [s for s in audio.clipping if s.duration_s >= spec.min_s]
    found = [ctx.at(s, view.says(f"Clipping for {span(s)}")) for s in runs]
    if not found:
        found = [ctx.finding(view.says(f"Clipping: {ok}"))]
    return result(capped(ctx, found, MAX_LISTED, "clipped runs"), ok)


def check_channels(ctx: Context) -> Outcome:
    """Dead channels: one channel silent for most of the programme, or for a long run."""
    return per_track(ctx, _track_channels, no_audio=_skip_audio(ctx))


def _track_channels(ctx: Context, view: TrackView) -> Outcome:
    audio = view.audio
    if audio is None:
        return skip("The audio was not analysed")
    if ctx.profile.channels.ignore_lfe and view.spec and (view.spec.channel or "").upper() == "LFE":
        return skip("LFE track, not checked")
    lfe = _lfe_channel(view.stream) if ctx.profile.channels.ignore_lfe else None
    found: list[Finding] = []
    for channel in range(1, audio.channels + 1):
        if channel != lfe:
            found += [
                replace(f, message=view.says(f.message))
                for f in _dead_channel(ctx, audio, channel, view.stream)
            ]
    ok = f"All {plural(audio.channels, 'channel')} carry signal"
    return result(found, ok + (f" (LFE, channel {lfe}, not checked)" if lfe else ""))


def _lfe_channel(stream: AudioStream | None) -> int | None:
    """The LFE's 1-based position in FFmpeg's channel order for ``N.1`` layouts."""
    layout = (stream.layout or "") if stream else ""
    if not layout.split("(")[0].endswith(".1"):
        return None
    return 3 if layout.startswith("2.1") else 4  # FL FR LFE …, else FL FR FC LFE …


def _dead_channel(
    ctx: Context, audio: AudioAnalysis, channel: int, stream: AudioStream | None = None
) -> list[Finding]:
    # A channel that is silent while the whole mix is silent is just silence, not a dead channel.
    own = [s for s in audio.channel_silence if s.channel == channel]
    alone = [piece for s in own for piece in subtract(s, audio.silence)]
    spec = ctx.profile.channels
    audible_s = (ctx.duration_s or audio.analysed_duration_s) - total_s(audio.silence)
    if audible_s > 0 and total_s(alone) >= spec.dead_share * audible_s:
        share = min(1.0, total_s(alone) / audible_s)
        name = _channel_name(channel, stream)
        message = f"Channel {name} is silent for {share:.0%} of the programme"
        return [ctx.finding(message, alone[0].start_s, alone[-1].end_s)]
    long_runs = [s for s in alone if s.duration_s >= spec.dead_min_s]
    name = _channel_name(channel, stream)
    return [ctx.at(s, f"Channel {name} is silent for {span(s)}") for s in long_runs]


# FFmpeg's channel order for the layouts deliveries use (FL FR FC LFE BL BR / SL SR …).
_SPEAKERS = {
    "stereo": ("L", "R"),
    "5.1": ("L", "R", "C", "LFE", "Ls", "Rs"),
    "5.0": ("L", "R", "C", "Ls", "Rs"),
    "7.1": ("L", "R", "C", "LFE", "Lrs", "Rrs", "Ls", "Rs"),
}


def _channel_name(channel: int, stream: AudioStream | None) -> str:
    """``3 (C)`` when the layout names the speaker, else ``3``."""
    layout = ((stream.layout if stream else None) or "").split("(")[0]
    speakers = _SPEAKERS.get(layout, ())
    return f"{channel} ({speakers[channel - 1]})" if channel <= len(speakers) else str(channel)


def check_phase(ctx: Context) -> Outcome:
    """Stereo phase: overall correlation, out-of-phase runs, mono carried as stereo."""
    return per_track(ctx, _track_phase, no_audio=_skip_audio(ctx))


def _track_phase(ctx: Context, view: TrackView) -> Outcome:
    audio = view.audio
    if audio is None:
        return skip("The audio was not analysed")
    if audio.channels < 2:
        return skip("Mono audio has no phase to check")
    spec = ctx.profile.phase
    found: list[Finding] = []
    mean = audio.phase_mean
    if mean is not None and mean < spec.min_mean_correlation:
        found.append(
            ctx.finding(
                f"Channels are out of phase: mean correlation {mean:.2f} "
                f"(min {spec.min_mean_correlation:g})"
            )
        )
    found += [ctx.at(s, f"Out of phase for {span(s)}") for s in _phase_runs(ctx, audio)]
    if audio.mono_as_stereo and spec.flag_mono_as_stereo:
        found.append(ctx.finding("Left and right are identical: mono carried as stereo"))
    ok = f"Mean correlation {mean:.2f}" if mean is not None else "No phase problem found"
    found = [replace(f, message=view.says(f.message)) for f in found]
    return result(capped(ctx, found, MAX_LISTED, "out-of-phase runs"), ok)


def _phase_runs(ctx: Context, audio: AudioAnalysis) -> list[Segment]:
    return [s for s in audio.out_of_phase if s.duration_s >= ctx.profile.phase.out_of_phase_min_s]
