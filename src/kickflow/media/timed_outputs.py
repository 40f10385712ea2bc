"""The analysis run's outputs for timed text and speech, built into the same single FFmpeg run.

- Shot changes: ``scdet`` on every frame of a tiny grey picture (the PSE branch's downscale
  when that branch runs), printing only the frames where a cut was found.
- Speech: per listened track, a 16 kHz mono signed 16-bit PCM file whose sample 0 is
  programme time 0 (a stream that starts late is preceded by that much silence);
  multichannel tracks are mixed towards their centre channel, where dialogue lives.
- Text subtitle streams: each written by the same run as its own small file (copied where the
  codec is already a file format, converted to SRT otherwise), parsed afterwards.

Pure: this builds filter chains and output arguments, and reads the files they produced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kickflow.media.metadata import parse_metadata_print
from kickflow.media.model import AudioStream, SubtitleStream
from kickflow.media.pse import cells_chain, small_picture
from kickflow.speech import SPEECH_RATE

SHOT_THRESHOLD = 10.0  # scdet's default score (0-100) for a cut
MAX_SUBTITLE_STREAMS = 16  # text streams written per file; the rest are listed, not read
_SAFE = re.compile(r"^[A-Za-z0-9_./-]+$")
# Layouts (FFmpeg's names) whose third channel is the front centre (FL FR FC …).
CENTRE_LAYOUTS = frozenset(
    {"3.0", "4.0", "5.0", "5.0(side)", "5.1", "5.1(side)", "6.0", "6.0(front)", "6.1",
     "6.1(back)", "6.1(front)", "7.0", "7.0(front)", "7.1", "7.1(wide)", "7.1(wide-side)",
     "hexagonal", "octagonal"}
)  # fmt: skip
# Codec → (encoder, muxer, format hint for the parser). Text that is already a file format
# is copied; MP4's mov_text and bare text are converted to SRT.
SUBTITLE_OUTPUTS = {
    "subrip": ("copy", "srt", "srt"),
    "srt": ("copy", "srt", "srt"),
    "ass": ("copy", "ass", "ass"),
    "ssa": ("copy", "ass", "ass"),
    "webvtt": ("copy", "webvtt", "vtt"),
    "ttml": ("copy", "ttml", "ttml"),
    "mov_text": ("srt", "srt", "srt"),
    "text": ("srt", "srt", "srt"),
}


@dataclass(frozen=True)
class SubtitleOutput:
    """A text subtitle stream the run writes to ``file``, in ``format_hint``'s syntax."""

    stream: SubtitleStream
    file: Path
    format_hint: str
    failed: bool = False  # the run that writes it failed: the stream is reported, not read


def _safe(file: Path) -> Path:
    if not _SAFE.match(str(file)):
        raise ValueError(f"unsafe path for an FFmpeg output: {file}")
    return file


def shots_file(work: Path) -> Path:
    return _safe(work / "shots.txt")


def shots_chain(file: Path) -> str:
    """After a small picture: cuts found by ``scdet``, only those frames printed."""
    return (
        f"format=gray,scdet=threshold={SHOT_THRESHOLD:g},"
        f"metadata=mode=print:key=lavfi.scd.time:file={_safe(file)}"
    )


def shot_graph(video_index: int, file: Path, *, with_pse: bool) -> str:
    """The video graph part for shot changes, sharing the PSE branch's downscale when it runs.

    With PSE the graph ends in two pads, ``[o_pse]`` (raw cells) and ``[o_shots]``; without,
    only ``[o_shots]``.
    """
    small = f"[0:{video_index}]{small_picture()}"
    if not with_pse:
        return f"{small},{shots_chain(file)}[o_shots]"
    return (
        f"{small},split=2[pse_small][shots_small];[pse_small]{cells_chain()}[o_pse];"
        f"[shots_small]{shots_chain(file)}[o_shots]"
    )


def read_shots(file: Path) -> tuple[float, ...]:
    """Cut times in seconds, in order (the first frame of each new shot)."""
    if not file.exists():
        return ()
    with file.open(encoding="utf-8", errors="replace") as lines:
        frames = parse_metadata_print(lines, ("lavfi.scd.time",))
    times = {round(f.number("lavfi.scd.time") or f.t, 6) for f in frames}
    return tuple(sorted(t for t in times if t > 0))


def speech_file(work: Path, position: int) -> Path:
    return _safe(work / f"speech_{position}.s16")


def dialogue_mix(stream: AudioStream) -> str:
    """``pan`` to mono, favouring the centre channel of a multichannel track.

    Channels are named by index, so a stream without a declared layout mixes the same way
    (FFmpeg's default order puts the centre third in 5.1 and 7.1).
    """
    n = stream.channels
    if n <= 1:
        return "pan=mono|c0=c0"
    if n == 2:
        return "pan=mono|c0=0.5*c0+0.5*c1"
    layout = stream.layout or f"{n} channels"
    if layout in CENTRE_LAYOUTS or layout in ("6 channels", "8 channels"):
        return "pan=mono|c0<c2+0.5*c0+0.5*c1"
    return "pan=mono|c0<" + "+".join(f"c{c}" for c in range(n))


def speech_graph(stream: AudioStream, position: int) -> str:
    """One track's own graph: the dialogue mix at 16 kHz (its timestamps left as they are)."""
    return (
        f"[0:{stream.index}]{dialogue_mix(stream)},aresample={SPEECH_RATE},"
        f"aformat=sample_fmts=s16:channel_layouts=mono[o_speech{position}]"
    )


def pad_start(pcm: Path, lead_s: float) -> None:
    """Put ``lead_s`` of silence before a track that starts after the programme does.

    The raw file has no timestamps; this makes its sample 0 programme time 0. Done here, not
    with ``aresample=first_pts=0`` in the graph: that padding was seen to stall FFmpeg 9's
    scheduler for good (about 1 run in 4 with the shot-change branch).
    """
    lead = round(lead_s * SPEECH_RATE)
    if lead <= 0 or not pcm.is_file():
        return
    padded = pcm.with_suffix(".padded")
    with pcm.open("rb") as source, padded.open("wb") as target:
        target.write(bytes(2 * lead))
        while block := source.read(1 << 20):
            target.write(block)
    padded.replace(pcm)


def speech_output_args(position: int, file: Path) -> list[str]:
    """The track's PCM as its own raw output of the run."""
    return [
        "-map", f"[o_speech{position}]", "-c:a", "pcm_s16le", "-ar", str(SPEECH_RATE),
        "-ac", "1", "-f", "s16le", f"file:{_safe(file)}",
    ]  # fmt: skip


def subtitle_outputs(streams: Sequence[SubtitleStream], work: Path) -> tuple[SubtitleOutput, ...]:
    """The readable text streams the run writes (at most MAX_SUBTITLE_STREAMS)."""
    readable = [s for s in streams if s.text and s.codec in SUBTITLE_OUTPUTS]
    out = []
    for s in readable[:MAX_SUBTITLE_STREAMS]:
        _, muxer, hint = SUBTITLE_OUTPUTS[s.codec]
        out.append(SubtitleOutput(s, _safe(work / f"sub_{s.index}.{muxer}"), hint))
    return tuple(out)


def subtitle_output_args(out: SubtitleOutput) -> list[str]:
    encoder, muxer, _ = SUBTITLE_OUTPUTS[out.stream.codec]
    return ["-map", f"0:{out.stream.index}", "-c:s", encoder, "-f", muxer, f"file:{out.file}"]
