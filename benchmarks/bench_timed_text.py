"""Benchmark: timed text and speech on a three-track delivery, against the decode floor.

Builds (and caches) a 1080p25 H.264 file with three 48 kHz stereo AAC tracks made from the cached
espeak-ng speech programme (bench_transcribe) — the original, a dub (0.4 s late, two stretches of
lines cut) and an M&E-like bed of tones and noise — and an SRT whose cues are the speech segments
the VAD finds on the original. Then, in one run, each ``--repeat`` times (median):
  (a) the decode floor: ``ffmpeg -i F -map 0 -f null -`` (every stream decoded), same binary;
  (b) ``kickflow check F --profile ebu-r128``: no subtitles, so nothing is listened to;
  (c) ``kickflow check F --profile timed-text --subtitles F.en.srt``: subtitle, shot-change and
      speech checks; timed-text has no track layout, so only track 1 is listened to;
  (d) as (c), with a copy of timed-text whose layout names the three tracks as dialogue or
      language tracks, so all three are listened to (the issue's case).
Prints wall and CPU seconds (the command and its children), peak RSS and the ratios to (a); what
(c) and (d) heard; then the costs apart: voice activity on each track's 16 kHz mono PCM, subtitle
parsing and the subtitle.* checks, the speech checks on the result, and the transcription bytes
per programme minute (the real client against the local fake provider on 127.0.0.1).

    .venv/bin/python benchmarks/bench_timed_text.py [--minutes 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

# bench_speech and bench_subtitles put the checkout on sys.path, for the tests' helpers.
from bench_check import CACHE, Run, make_file, measure, row
from bench_speech import judge, timed
from bench_subtitles import SUBTITLE_CHECKS, median_s
from bench_transcribe import SENTENCES, speech_programme
from tests.fakes.transcription_server import KEY, running_provider
from tests.fixtures_subtitles import cue, srt

from kickflow.checks import run_check
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.model import Measurements, MediaInfo, Segment, TrackSpeech
from kickflow.media.probe import probe_in_process
from kickflow.profiles import Profile, load_profile
from kickflow.profiles.speech_spec import SpeechSpec
from kickflow.speech import SPEECH_RATE
from kickflow.speech.transcribe import ProviderConfig, Transcriber
from kickflow.speech.vad import speech_segments
from kickflow.subtitles.load import parse_subtitle_bytes

QUIET = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
TRACKS = 3
LANGUAGES = ("eng", "fra", "zxx")  # zxx: no linguistic content (the M&E bed)
DUB_DELAY_MS = 400
CUT_S = 4.0  # each of the dub's two muted stretches (lines the dub lost)
CUTS_AT = (0.25, 0.6)  # where they start, as shares of the programme
MAX_CUE_S = 6.0  # longer speech runs become several cues (timed-text allows 7 s)
CUE_GAP_S = 0.1  # between the cues of one run: above the profile's 2 frames
# Appended to a copy of timed-text.toml: a file profile's ``extends`` resolves one level only,
# and timed-text itself extends streaming.
LAYOUT_TRACKS = """
# Added by benchmarks/bench_timed_text.py: all three tracks listened to.
[[audio.tracks]]
role = "dialogue"
language = "eng"

[[audio.tracks]]
role = "language:fra"

[[audio.tracks]]
role = "dialogue"
"""
LAYOUT_FILE = CACHE / "bench-timed-text-3.toml"  # the CLI takes a profile by path
# The CLI would send speech to a real provider when a key is set: this measures local cost only.
PROVIDER_KEYS = ("KICKFLOW_TRANSCRIPTION_API_KEY", "KICKFLOW_GROQ_API_KEY")


def tracks_graph(seconds: float) -> str:
    """Filter graph from the 16 kHz speech (input 1) to the three 48 kHz stereo tracks."""
    cuts = "+".join(f"between(t,{seconds * at:.1f},{seconds * at + CUT_S:.1f})" for at in CUTS_AT)
    bed = "|".join(f"0.05*sin(2*PI*{f}*t)+0.02*(2*random({n})-1)" for n, f in enumerate((220, 330)))
    return (
        "[1:a]aresample=48000,pan=stereo|c0=c0|c1=c0,asplit[orig][speech];"
        f"[speech]adelay={DUB_DELAY_MS}|{DUB_DELAY_MS},volume=0:enable='{cuts}'[dub];"
        f"aevalsrc={bed}:s=48000:d={seconds:g}[me]"
    )


def delivery(ffmpeg: str, minutes: float) -> Path:
    """The cached 1080p25 file (bench_check's video) with its three speech-derived tracks."""
    target = CACHE / f"timed-text-{minutes:g}min-1080p25-3a.mp4"
    if target.exists():
        return target
    seconds = minutes * 60
    video = make_file(ffmpeg, minutes)
    speech = speech_programme(max(minutes, 10.0))  # the cached 10-min PCM covers shorter runs
    print(f"generating {target.name} (one-off, cached)…", file=sys.stderr)
    tags = [
        a for n, lang in enumerate(LANGUAGES) for a in (f"-metadata:s:a:{n}", f"language={lang}")
    ]
    part = target.with_name(target.name + ".part.mp4")
    subprocess.run(
        [ffmpeg, *QUIET, "-i", str(video),
         "-f", "s16le", "-ar", str(SPEECH_RATE), "-ac", "1", "-i", str(speech),
         "-filter_complex", tracks_graph(seconds),
         "-map", "0:v", "-map", "[orig]", "-map", "[dub]", "-map", "[me]",
         "-c:v", "copy", "-c:a", "aac", "-b:a", "192k", *tags, "-t", f"{seconds:g}", str(part)],
        check=True,
    )  # fmt: skip
    part.rename(target)
    return target


def listened_pcms(ffmpeg: str, source: Path) -> list[Path]:
    """Each track as the decode writes it for listening (16 kHz mono s16le), cached."""
    pcms = [source.with_suffix(f".track{n}.pcm") for n in range(1, TRACKS + 1)]
    if all(p.exists() for p in pcms):
        return pcms
    outputs: list[str] = []
    for n, pcm in enumerate(pcms):
        outputs += ["-map", f"0:a:{n}", "-ac", "1", "-ar", str(SPEECH_RATE), "-f", "s16le"]
        outputs.append(str(pcm))
    subprocess.run([ffmpeg, *QUIET, "-i", str(source), *outputs], check=True)
    return pcms


def heard(pcm: Path, spec: SpeechSpec) -> tuple[Segment, ...]:
    """Voice activity on one track with the profile's settings, as the speech stage runs it."""
    return speech_segments(
        pcm,
        threshold=spec.vad_threshold,
        min_speech_s=spec.min_speech_s,
        min_silence_s=spec.min_silence_s,
        pad_s=spec.pad_s,
    )


def cue_times(segments: Sequence[Segment]) -> Iterator[tuple[float, float]]:
    """A cue per speech segment; a segment too long for one cue is split evenly."""
    for s in segments:
        pieces = max(1, math.ceil(s.duration_s / MAX_CUE_S))
        step = s.duration_s / pieces
        for k in range(pieces):
            start = s.start_s + k * step
            gap = CUE_GAP_S if k < pieces - 1 else 0.0
            yield round(start, 3), round(start + step - gap, 3)


def subtitle_file(pcm: Path, spec: SpeechSpec, target: Path) -> Path:
    """The cached SRT whose cues follow the speech of ``pcm`` (the original track)."""
    if target.exists():
        return target
    times = cue_times(heard(pcm, spec))
    lines = (textwrap.wrap(sentence, 42) for sentence in itertools.cycle(SENTENCES))
    cues = [cue(start, end, *text) for (start, end), text in zip(times, lines, strict=False)]
    target.write_text(srt(cues), encoding="utf-8")
    return target


def median_run(runs: Sequence[Run]) -> Run:
    return Run(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        statistics.median(r.peak_rss_mb for r in runs),
    )


def check_cmd(source: Path, profile: str, report: Path, subtitles: Path | None) -> list[str]:
    """``kickflow check`` writing its JSON report to ``report`` (read back for what it heard)."""
    cmd = [sys.executable, "-m", "kickflow", "check", str(source), "--profile", profile]
    cmd += ["--json", str(report)]
    return [*cmd, "--subtitles", str(subtitles)] if subtitles else cmd


def what_was_heard(report: Path) -> str:
    """Listened tracks, cues, cuts and the timed-text findings of one report."""
    d = json.loads(report.read_text(encoding="utf-8"))
    tracks = ", ".join(f"{t['position']}: {t['speech_s']:.0f} s" for t in d.get("speech", []))
    cues = sum(f["cue_count"] for f in d.get("subtitles", []))
    found = Counter(f["check"] for f in d["findings"])
    timed_text = {k: n for k, n in found.items() if k.startswith(("subtitle.", "speech."))}
    cuts = "yes" if d.get("shot_changes", {}).get("measured") else "no"
    return (
        f"listened [{tracks or 'none'}]  cues {cues}  shot changes measured: {cuts}  "
        f"findings {dict(sorted(timed_text.items()))}"
    )


def layout_profile() -> str:
    """timed-text under another name, with a layout that makes every track listened to."""
    builtin = resources.files("kickflow.profiles").joinpath("timed-text.toml").read_text("utf-8")
    renamed = builtin.replace('name = "timed-text"', 'name = "bench-timed-text-3"', 1)
    return renamed + LAYOUT_TRACKS


def measure_side_by_side(ffmpeg: str, source: Path, srt_file: Path, repeat: int) -> None:
    """(a)-(d), interleaved so that a load change on the machine hits them all alike."""
    LAYOUT_FILE.write_text(layout_profile(), encoding="utf-8")
    reports = {k: CACHE / f"bench-timed-text-{k}.json" for k in "bcd"}
    commands = {
        "a": [ffmpeg, *QUIET, "-i", str(source), "-map", "0", "-f", "null", "-"],
        "b": check_cmd(source, "ebu-r128", reports["b"], None),
        "c": check_cmd(source, "timed-text", reports["c"], srt_file),
        "d": check_cmd(source, str(LAYOUT_FILE), reports["d"], srt_file),
    }
    names = {
        "a": "(a) decode floor, -map 0",
        "b": "(b) check, ebu-r128",
        "c": "(c) check, timed-text + srt",
        "d": "(d) check, (c) + 3 tracks heard",
    }
    runs: dict[str, list[Run]] = {k: [] for k in commands}
    for _ in range(repeat):
        for key, cmd in commands.items():
            runs[key].append(measure(cmd))
    result = {k: median_run(v) for k, v in runs.items()}
    floor = result["a"]
    print(f"{'file: ' + source.name:<34} {'wall s':>9} {'cpu s':>9} {'peak MB':>10} "
          f"{'wall/a':>7} {'cpu/a':>7}")  # fmt: skip
    for key, name in names.items():
        run = result[key]
        ratios = f"{run.wall_s / floor.wall_s:7.2f} {run.cpu_s / floor.cpu_s:7.2f}"
        print(f"{row(name, run)} {ratios}")
    for key in "cd":
        print(f"{key}: {what_was_heard(reports[key])}")


def timed_vad(pcm: Path, spec: SpeechSpec, found: list[tuple[Segment, ...]]) -> tuple[float, float]:
    """Wall and CPU seconds of one track's voice activity (its segments appended to ``found``)."""
    return timed(lambda: found.append(heard(pcm, spec)))


def vad_cost(pcms: Sequence[Path], spec: SpeechSpec, repeat: int) -> list[tuple[Segment, ...]]:
    """Voice activity alone on each track's PCM, one after the other; returns the segments."""
    found: list[tuple[Segment, ...]] = []
    total_wall = total_cpu = 0.0
    for n, pcm in enumerate(pcms, 1):
        times = [timed_vad(pcm, spec, found) for _ in range(repeat)]
        wall, cpu = statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        audio_s = pcm.stat().st_size / 2 / SPEECH_RATE
        print(f"VAD track {n}: {wall:6.2f} s wall {cpu:6.2f} s cpu  "
              f"{audio_s / wall:5.0f}× real time  {len(found[-1]):4d} segments")  # fmt: skip
    together = f"{total_wall:.2f} s wall {total_cpu:.2f} s cpu"
    print(f"VAD, {len(pcms)} tracks one after the other: {together}")
    return found[repeat - 1 :: repeat]


def subtitle_cost(media: MediaInfo, srt_file: Path, profile: Profile, repeat: int) -> None:
    """Parsing the SRT and running every subtitle.* check on it, with the file's real media."""
    data = srt_file.read_bytes()
    parsed = parse_subtitle_bytes(data, srt_file.name)
    m = Measurements(media=media, subtitles=(parsed,), shot_changes=())
    parse = median_s(lambda: parse_subtitle_bytes(data, srt_file.name), repeat)
    checks = median_s(lambda: [run_check(c, m, profile) for c in SUBTITLE_CHECKS], repeat)
    print(f"subtitles: {len(parsed.cues)} cues  parse {parse * 1000:.1f} ms  "
          f"{len(SUBTITLE_CHECKS)} subtitle.* checks {checks * 1000:.1f} ms")  # fmt: skip


def speech_check_cost(
    media: MediaInfo,
    srt_file: Path,
    found: Sequence[tuple[Segment, ...]],
    profile: Profile,
    repeat: int,
) -> None:
    """speech.subtitle_sync and speech.dub_timing on what the VAD heard (bench_speech.judge)."""
    seconds = media.duration_s or 0.0
    speech = tuple(TrackSpeech(n, s, seconds) for n, s in enumerate(found, 1))
    parsed = parse_subtitle_bytes(srt_file.read_bytes(), srt_file.name)
    m = Measurements(media=media, speech=speech, subtitles=(parsed,))
    cost = median_s(lambda: judge(m, profile), repeat)
    print(f"speech checks (subtitle sync + dub timing): {cost * 1000:.1f} ms")


def transcription_cost(
    ffmpeg: str, pcms: Sequence[Path], found: Sequence[tuple[Segment, ...]], minutes: float
) -> None:
    """Bytes the client sends for each track's speech (bench_transcribe's fake provider)."""
    total = 0
    with running_provider() as provider:
        client = Transcriber(ProviderConfig(base_url=provider.url, api_key=KEY), ffmpeg=ffmpeg)
        for n, (pcm, segments) in enumerate(zip(pcms, found, strict=True), 1):
            if not segments:
                print(f"transcription track {n}: no speech, nothing sent")
                continue
            sent = client.transcribe(pcm, segments)
            total += sent.bytes_sent
            print(f"transcription track {n} (opus): {sent.audio_seconds_sent:.0f} s of speech, "
                  f"{sent.bytes_sent:,} B in {sent.requests} requests, "
                  f"{sent.bytes_sent / minutes:,.0f} B per programme minute")  # fmt: skip
    print(f"transcription, all tracks: {total / minutes:,.0f} B per programme minute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for key in PROVIDER_KEYS:
        os.environ[key] = ""
    ffmpeg = find_ffmpeg().path
    source = delivery(ffmpeg, args.minutes)
    pcms = listened_pcms(ffmpeg, source)
    profile = load_profile("timed-text")
    srt_file = subtitle_file(pcms[0], profile.speech, source.with_suffix(".en.srt"))
    print(f"{args.minutes:g} min, 1080p25 + {TRACKS} AAC tracks, median of {args.repeat} runs")
    measure_side_by_side(ffmpeg, source, srt_file, args.repeat)
    found = vad_cost(pcms, profile.speech, args.repeat)
    media = probe_in_process(source, source.stat().st_size, allow_raw_pcm=False, max_pixels=10**8)
    subtitle_cost(media, srt_file, profile, args.repeat)
    speech_check_cost(media, srt_file, found, load_profile(str(LAYOUT_FILE)), args.repeat)
    transcription_cost(ffmpeg, pcms, found, args.minutes)


if __name__ == "__main__":
    main()
