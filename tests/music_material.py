"""Generated programme material for the music-bed heuristic: speech, music, effects, silence.

Speech is espeak-ng; music is synthesised chords and a bass line with a rhythm, plus noise-based
percussion (hi-hat ticks, a snare on the off-beat); effects are filtered noise bursts. Every
kind is written as 48 kHz stereo PCM so that the analysis sees what a delivery would carry.
Used by tests/integration/test_music_bed.py and benchmarks/bench_music.py.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kickflow.media.binaries import find_ffmpeg

SENTENCES = (
    "The harbour was quiet when the boats came back, and nobody said a word about the storm.",
    "We will meet again at the station tomorrow morning, unless the trains are late again.",
    "She opened the letter slowly, read the first line twice, and then put it in her pocket.",
    "Every evening the old man walked to the end of the pier to watch the lights go out.",
)
# Four chords (root frequencies of a I–vi–IV–V progression in C), two seconds each.
CHORDS = ((261.63, 329.63, 392.0), (220.0, 261.63, 329.63), (174.61, 220.0, 261.63),
          (196.0, 246.94, 293.66))  # fmt: skip


@dataclass(frozen=True)
class Material:
    """One programme to classify: its file, its kind and whether it carries a music bed."""

    name: str
    kind: str  # speech | music | mixed | effects | silence
    path: Path
    has_bed: bool


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def run_ffmpeg(args: list[str]) -> None:
    cmd = [find_ffmpeg().path, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or "ffmpeg failed")


def speech_wav(target: Path, seconds: float, voice: str = "en", speed: int = 160) -> Path:
    """espeak-ng sentences, one after another with a short pause, to ``seconds`` (48 kHz)."""
    raw = target.with_suffix(".espeak.wav")
    text = " ... ".join(SENTENCES * 3)
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    run_ffmpeg(["-i", str(raw), "-af", f"aresample=48000,apad,atrim=0:{seconds}",
             "-ac", "2", "-c:a", "pcm_s16le", str(target)])  # fmt: skip
    raw.unlink()
    return target


def _chord_expr(voice_gain: float) -> str:
    """A chord per 2 s, each note re-struck on every beat (0.5 s) with a decaying envelope."""
    notes = []
    for k in range(3):
        freq = "+".join(f"{chord[k]}*eq(mod(floor(t/2),4),{i})" for i, chord in enumerate(CHORDS))
        notes.append(f"sin(2*PI*({freq})*t)")
    envelope = "(0.35+0.65*exp(-4*mod(t,0.5)))"
    return f"{voice_gain}*{envelope}*({'+'.join(notes)})/3"


def _bass_expr(gain: float) -> str:
    root = "+".join(f"{c[0] / 2}*eq(mod(floor(t/2),4),{i})" for i, c in enumerate(CHORDS))
    return f"{gain}*exp(-3*mod(t,1))*sin(2*PI*({root})*t)"


def _drums_expr(gain: float) -> str:
    """Noise percussion: a hi-hat tick every quarter beat, a snare on the off-beat."""
    hat = "exp(-60*mod(t,0.25))"
    snare = "exp(-18*mod(t+0.5,1))*lt(mod(t+0.5,1),0.25)"
    return f"{gain}*(0.4*{hat}+{snare})*(2*random(0)-1)"


def music_wav(target: Path, seconds: float, level_db: float = -18.0) -> Path:
    """Chords, bass and noise percussion at roughly ``level_db`` RMS."""
    gain = 10 ** ((level_db + 9) / 20)
    expr = f"{_chord_expr(gain)}+{_bass_expr(gain * 0.6)}+{_drums_expr(gain * 0.5)}"
    run_ffmpeg(["-f", "lavfi", "-i", f"aevalsrc='{expr}|{expr}':s=48000:d={seconds}",
             "-c:a", "pcm_s16le", str(target)])  # fmt: skip
    return target


def effects_wav(target: Path, seconds: float, level_db: float = -20.0) -> Path:
    """Noise bursts of different lengths and colours (doors, steps, whooshes) with gaps."""
    gain = 10 ** ((level_db + 6) / 20)
    burst = "lt(mod(t,1.7),0.35)*exp(-6*mod(t,1.7))+lt(mod(t+0.6,2.9),0.8)*0.5"
    expr = f"{gain}*({burst})*(2*random(0)-1)"
    run_ffmpeg(["-f", "lavfi", "-i", f"aevalsrc='{expr}|{expr}':s=48000:d={seconds}",
             "-af", "lowpass=f=6000,highpass=f=80", "-c:a", "pcm_s16le", str(target)])  # fmt: skip
    return target


def silence_wav(target: Path, seconds: float, noise_db: float | None = None) -> Path:
    """Digital silence, or a noise floor at ``noise_db`` dBFS (room tone)."""
    expr = "0" if noise_db is None else f"{10 ** (noise_db / 20) * 1.7}*(2*random(0)-1)"
    run_ffmpeg(["-f", "lavfi", "-i", f"aevalsrc='{expr}|{expr}':s=48000:d={seconds}",
             "-c:a", "pcm_s16le", str(target)])  # fmt: skip
    return target


def mixed_wav(target: Path, speech: Path, music: Path) -> Path:
    """Speech over a bed (both already at their levels), summed sample by sample."""
    run_ffmpeg(["-i", str(speech), "-i", str(music), "-filter_complex",
             "amix=inputs=2:duration=shortest:normalize=0", "-c:a", "pcm_s16le",
             str(target)])  # fmt: skip
    return target


def gain_wav(target: Path, source: Path, gain_db: float) -> Path:
    run_ffmpeg(["-i", str(source), "-af", f"volume={gain_db}dB", "-c:a", "pcm_s16le", str(target)])
    return target


def material_set(work: Path, seconds: float = 20.0) -> list[Material]:
    """The evaluation set: each kind at several levels (speech at -24…-44 dBFS RMS, music at
    -14…-48 dBFS, music under speech 6…32 dB down, effects at -18…-42 dBFS), speech over room
    tone up to -42 dBFS, and silence."""
    work.mkdir(parents=True, exist_ok=True)
    speech = speech_wav(work / "speech.wav", seconds)
    out: list[Material] = []
    for gain in (0.0, -10.0, -20.0):
        path = gain_wav(work / f"speech{gain:+g}.wav", speech, gain)
        out.append(Material(f"speech {gain:+g} dB", "speech", path, False))
    fast = speech_wav(work / "speech-fast.wav", seconds, voice="en+f3", speed=220)
    out.append(Material("speech, fast female voice", "speech", fast, False))
    for noise in (-60.0, -50.0, -42.0):
        tone = silence_wav(work / f"tone{noise:g}.wav", seconds, noise)
        path = mixed_wav(work / f"speech-tone{noise:g}.wav", speech, tone)
        out.append(Material(f"speech + room tone {noise:g}", "speech", path, False))
    for level in (-14.0, -24.0, -38.0, -48.0):
        path = music_wav(work / f"music{level:g}.wav", seconds, level)
        out.append(Material(f"music {level:g} dBFS", "music", path, True))
    for under in (-6.0, -16.0, -26.0, -32.0):
        bed = music_wav(work / f"bed{under:g}.wav", seconds, -18.0 + under)
        path = mixed_wav(work / f"mixed{under:g}.wav", speech, bed)
        out.append(Material(f"speech + music {under:g} dB", "mixed", path, True))
    for level in (-18.0, -30.0, -42.0):
        path = effects_wav(work / f"effects{level:g}.wav", seconds, level)
        out.append(Material(f"effects {level:g} dBFS", "effects", path, True))
    out.append(Material("digital silence", "silence", silence_wav(work / "s.wav", seconds), False))
    for noise in (-70.0, -55.0):
        path = silence_wav(work / f"noise{noise:g}.wav", seconds, noise)
        out.append(Material(f"room tone {noise:g} dBFS", "silence", path, False))
    return out
