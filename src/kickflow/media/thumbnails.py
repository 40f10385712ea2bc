"""Pictures of the frames at given times, in one FFmpeg run.

One input per time, each opened with the analysis's guards (:func:`media.graph.safe_input`:
file protocol only, the probed demuxer only, the picture-size cap) and seeked there (``-ss``
before ``-i``: a keyframe seek, then decoding up to the exact frame). One frame of each input,
scaled to :data:`THUMB_WIDTH`, is joined in order by ``concat`` and written as JPEG files. The
joined stream's timestamps count the pictures (1 s each), so FFmpeg's progress output says how
many are done and the runner's watchdog sees each one.

The cost is one seek per picture (each decodes at most one group of pictures), whatever the
length of the programme; every open input holds a decoder, so the number of inputs per run is
bounded by the memory limit (:func:`max_inputs`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kickflow.media.graph import SAFE_PATH, safe_input
from kickflow.media.runner import RunLimits, run_ffmpeg

THUMB_WIDTH = 320
JPEG_QUALITY = 5  # mjpeg's -q:v: 2 is best, 31 worst; 5 keeps a 320 px picture near 10 kB
DECODER_FRAMES = 16  # pictures a decoder may hold (H.264's largest reference buffer)
INPUT_OVERHEAD_MB = 32.0  # demuxer, decoder and thread stacks of one input
MIN_READ_S = 1.0  # each input reads this far past its seek point at most
PATTERN = "thumb-%03d.jpg"


@dataclass(frozen=True)
class FrameSource:
    """The video stream pictures are taken from."""

    path: Path
    format_name: str
    stream_index: int
    width: int
    height: int
    frame_s: float  # one frame's duration


def max_inputs(source: FrameSource, max_memory_mb: int, wanted: int) -> int:
    """How many pictures one run may take within half the FFmpeg memory limit (0: no limit)."""
    if max_memory_mb <= 0:
        return wanted
    per_input = source.width * source.height * 1.5 * DECODER_FRAMES / 2**20 + INPUT_OVERHEAD_MB
    return max(1, min(wanted, int(max_memory_mb / 2 / per_input)))


def _input(source: FrameSource, at_s: float, max_pixels: int | None) -> list[str]:
    # A quarter frame early: the first frame at or after the seek point is the one at ``at_s``.
    seek = max(0.0, at_s - source.frame_s / 4)
    read = max(MIN_READ_S, 4 * source.frame_s)
    return [
        "-threads", "1", "-ss", f"{seek:.6f}", "-t", f"{read:.3f}",
        *safe_input(source.path, source.format_name, max_pixels),
    ]  # fmt: skip


def frame_args(
    source: FrameSource, times: list[float], out_dir: Path, max_pixels: int | None = None
) -> list[str]:
    """FFmpeg arguments writing one JPEG per time to ``out_dir`` (``thumb-000.jpg`` …)."""
    if not SAFE_PATH.match(str(out_dir)):
        raise ValueError(f"unsafe output directory: {out_dir}")
    args: list[str] = []
    chains, labels = [], ""
    for i, at_s in enumerate(times):
        args += _input(source, at_s, max_pixels)
        chains.append(
            f"[{i}:{source.stream_index}]trim=end_frame=1,"
            f"scale={THUMB_WIDTH}:-2:out_range=full,format=yuvj420p,setsar=1[p{i}]"
        )
        labels += f"[p{i}]"
    chains.append(f"{labels}concat=n={len(times)}:v=1:a=0,settb=1,setpts=N+1[pics]")
    return [
        *args, "-filter_complex", ";".join(chains), "-map", "[pics]",
        "-fps_mode", "passthrough", "-c:v", "mjpeg", "-q:v", str(JPEG_QUALITY),
        "-f", "image2", "-start_number", "0", str(out_dir / PATTERN),
    ]  # fmt: skip


def extract_frames(
    binary: str,
    source: FrameSource,
    times: list[float],
    work_dir: Path,
    *,
    limits: RunLimits,
    max_pixels: int | None = None,
    on_count: Callable[[float], None] | None = None,
) -> list[bytes]:
    """The JPEG pictures, in the order of ``times``; fewer than asked for when an input gave
    no frame (the caller cannot tell which one, so it treats that as a failure).

    ``on_count`` receives how many pictures are done; if it raises, FFmpeg is killed and the
    exception propagates (the job's cancel and fencing path)."""
    base = work_dir if SAFE_PATH.match(str(work_dir)) else None
    out_dir = Path(tempfile.mkdtemp(prefix="kickflow-thumbs-", dir=base))
    try:
        run_ffmpeg(
            binary,
            frame_args(source, times, out_dir, max_pixels),
            limits=limits,
            duration_s=float(len(times)),
            on_progress=on_count,
        )
        return [path.read_bytes() for path in sorted(out_dir.glob("thumb-*.jpg"))]
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
