"""Benchmark: what listening to the tracks costs, beside the decode of the same audio.

A programme of ``--minutes`` (10 by default) of espeak-ng dialogue over a music bed, as 48 kHz
stereo AAC, measured ``--repeat`` times (median):
  (a) decode only: ``ffmpeg -i F -f null -`` — the floor for this audio;
  (b) the decode writing the 16 kHz mono PCM of a listened track (what the analysis adds);
  (c) voice activity over that PCM, one track;
  (d) the speech stage over three tracks' PCM (two VAD threads), as a job with a 3-track layout;
  (e) the speech checks on the result (subtitle sync of one file, dub timing of two tracks).
Prints wall and CPU seconds, the real-time factor of each, and the cost per programme minute.

    .venv/bin/python benchmarks/bench_speech.py [--minutes 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the espeak programme builder of the tests

from tests.speech_media import music_bed, programme, spoken_extent, spread, write_wav  # noqa: E402

from kickflow.checks import run_check  # noqa: E402
from kickflow.media.binaries import find_ffmpeg  # noqa: E402
from kickflow.media.model import (  # noqa: E402
    AudioStream,
    Cue,
    Measurements,
    MediaInfo,
    SubtitleFile,
    TrackSpeech,
)
from kickflow.profiles import Profile, load_profile_text  # noqa: E402
from kickflow.speech.stage import SpeechStage  # noqa: E402
from kickflow.speech.vad import speech_segments  # noqa: E402

PROFILE = """
extends = "ebu-r128"
name = "bench-speech"
[[audio.tracks]]
role = "mix"
[[audio.tracks]]
role = "language:fra"
[[audio.tracks]]
role = "language:deu"
[speech]
enabled = true
"""
Timed = tuple[float, float]  # wall, cpu


def timed(run: Callable[[], object]) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def timed_process(cmd: list[str]) -> Timed:
    """Wall and CPU (of the child) of one command."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(cmd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - wall, cpu


def make_programme(ffmpeg: str, minutes: float, directory: Path) -> tuple[Path, list[Cue]]:
    """The AAC programme and a subtitle cue per line (timed to the voice)."""
    seconds = minutes * 60
    lines = spread(int(seconds // 6) - 1)
    audio = programme(lines, seconds, music_bed(seconds))
    wav = write_wav(directory / "programme.wav", audio, audio)
    target = directory / "programme.m4a"
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav),
         "-c:a", "aac", "-b:a", "192k", str(target)],
        check=True,
    )  # fmt: skip
    cues = []
    for number, line in enumerate(lines, 1):
        spoken = spoken_extent(line)
        cues.append(Cue(number, spoken.start_s, spoken.end_s + 0.5, line.text))
    return target, cues


def measurements(
    source: Path, seconds: float, stream: AudioStream, speech: tuple[TrackSpeech, ...],
    cues: list[Cue],
) -> Measurements:  # fmt: skip
    media = MediaInfo(str(source), 1, "mp4", seconds, None, audio=(stream,) * 3)
    sub = SubtitleFile(name="programme.en.srt", format="srt", language="en", cues=tuple(cues))
    return Measurements(media=media, speech=speech, subtitles=(sub,))


def judge(m: Measurements, profile: Profile) -> None:
    for check in ("speech.subtitle_sync", "speech.dub_timing"):
        run_check(check, m, profile)


def median(runs: list[Timed]) -> Timed:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ffmpeg = find_ffmpeg().path
    seconds = args.minutes * 60
    profile = load_profile_text(PROFILE, "bench-speech")
    spec = profile.speech
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        source, cues = make_programme(ffmpeg, args.minutes, directory)
        pcm = directory / "track.pcm"
        base = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
        decode = [*base, "-f", "null", "-"]
        branch = [*base, "-ac", "1", "-ar", "16000", "-f", "s16le", str(pcm)]
        stream = AudioStream(1, "aac", 48000, 2, "stereo", 0.0, seconds)
        stage = SpeechStage(profile, [stream, stream, stream], None)
        files = {1: pcm, 2: pcm, 3: pcm}
        heard: list[tuple[TrackSpeech, ...]] = []
        runs: dict[str, list[Timed]] = {k: [] for k in "abcde"}
        for _ in range(args.repeat):
            runs["a"].append(timed_process(decode))
            runs["b"].append(timed_process(branch))
            runs["c"].append(timed(lambda: speech_segments(
                pcm, threshold=spec.vad_threshold, min_speech_s=spec.min_speech_s,
                min_silence_s=spec.min_silence_s, pad_s=spec.pad_s)))  # fmt: skip
            runs["d"].append(timed(lambda: heard.append(stage(files, seconds))))
            m = measurements(source, seconds, stream, heard[-1], cues)
            runs["e"].append(timed(lambda m=m: judge(m, profile)))
    print(f"{args.minutes:g} min programme ({len(cues)} lines over music), "
          f"median of {args.repeat} runs")  # fmt: skip
    print(f"{'':<44} {'wall s':>8} {'cpu s':>8} {'× real time':>12} {'s / prog. min':>14}")
    names = {
        "a": "(a) decode only (48 kHz stereo AAC)",
        "b": "(b) decode + 16 kHz mono PCM branch",
        "c": "(c) VAD, one track",
        "d": "(d) speech stage, three tracks",
        "e": "(e) sync + dub-timing checks",
    }
    result = {k: median(v) for k, v in runs.items()}
    for key, name in names.items():
        wall, cpu = result[key]
        print(f"{name:<44} {wall:8.2f} {cpu:8.2f} {seconds / wall:12.0f} "
              f"{wall / args.minutes:14.3f}")  # fmt: skip
    a, b, c, d = (result[k][0] for k in "abcd")
    print(f"VAD / decode: {c / a:.2f}   PCM branch extra / decode: {(b - a) / a:.2f}   "
          f"3-track stage / 1-track VAD: {d / c:.2f}")  # fmt: skip
    print(f"segments heard on track 1: {len(heard[-1][0].segments)} for {len(cues)} lines")


if __name__ == "__main__":
    main()
