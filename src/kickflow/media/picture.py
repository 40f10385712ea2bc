"""Levels of the sampled picture, measured here on the frames the run writes.

The statistics branch's reduced picture (black, freeze and crop are detected on it in the
graph) leaves the run as raw planar YUV on a pipe (media/pipes.py). Per frame a thread measures
what FFmpeg's ``signalstats`` gave before: the minimum and maximum of Y, Cb and Cr, and the
share of pixels outside the broadcast range (``BRNG``: a pixel counts when its Y is outside
16–235 or the Cb or Cr sample it uses is outside 16–240, scaled by 2^(bits−8)). signalstats
also computes hue and saturation on every pixel whatever is asked; it cost 0.9 CPU-s per
programme minute of 1080p25 sampled at 5 fps, the pipe and numpy 0.25.

The pipe carries no timestamps: the branch marks every frame in its metadata print, so that the
``k``-th frame on the pipe is the ``k``-th frame printed (media/video.py pairs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kickflow.media.model import VideoStream
from kickflow.media.pipes import PipeGroup, PipeReader

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]

# The planar formats the statistics branch converts to: bit depth, chroma shifts (x, y).
FORMATS: dict[str, tuple[int, int, int]] = {
    "yuv420p": (8, 1, 1),
    "yuv422p": (8, 1, 0),
    "yuv444p": (8, 0, 0),
    "yuv420p10le": (10, 1, 1),
    "yuv422p10le": (10, 1, 0),
    "yuv444p10le": (10, 0, 0),
    "yuv420p12le": (12, 1, 1),
}
MARK = "lavfi.kickflow.frame"  # set on every frame of the branch, so that each is printed
BATCH_FRAMES = 4  # frames measured at a time
COLUMNS = ("y_min", "y_max", "u_min", "u_max", "v_min", "v_max", "out_of_range")
_RGB_LIKE = ("rgb", "bgr", "gbr", "argb", "abgr", "0rgb", "0bgr", "x2rgb", "x2bgr")


def analysed_format(video: VideoStream) -> str:
    """The planar YUV format the reduced picture is measured in.

    The source's own when it is one of :data:`FORMATS`; otherwise the same chroma
    subsampling (RGB counts as 4:4:4; anything unrecognised, 4:2:0) at the nearest depth
    there is (12-bit 4:2:2 and 4:4:4 are measured at 10 bits).
    """
    name = (video.pix_fmt or "").lower()
    if name in FORMATS:
        return name
    if "444" in name or name.startswith(_RGB_LIKE):
        chroma = "444"
    elif "422" in name or name in ("yuyv422", "uyvy422", "nv16", "y210le", "p210le"):
        chroma = "422"
    else:
        chroma = "420"
    bits = video.bit_depth or 8
    if bits <= 8:
        return f"yuv{chroma}p"
    if bits >= 12 and chroma == "420":
        return "yuv420p12le"
    return f"yuv{chroma}p10le"


def chain_end() -> str:
    """What the statistics branch ends with so that its print has a line for every frame."""
    return f"metadata=mode=add:key={MARK}:value=1"


def output_args(pad: str, fd: int) -> list[str]:
    """The reduced picture as a raw output of the run, written to the pipe ``fd``: every frame
    the branch passes, none added or dropped to make a constant rate."""
    return ["-map", pad, "-fps_mode", "passthrough", "-c:v", "rawvideo", "-f", "rawvideo",
            f"pipe:{fd}"]  # fmt: skip


@dataclass(frozen=True)
class PictureLevels:
    """Per measured frame (rows, in the order written): :data:`COLUMNS`."""

    rows: Array
    bits: int

    @property
    def frames(self) -> int:
        return int(self.rows.shape[0])


class PictureReader(PipeReader):
    """Measures the reduced picture's frames as they come from the run's pipe (read by
    ``group``'s thread, or by a thread of its own)."""

    def __init__(
        self, read_end: int, size: tuple[int, int], pix_fmt: str, group: PipeGroup | None = None
    ) -> None:
        self.width, self.height = size
        self.bits, self._xsub, self._ysub = FORMATS[pix_fmt]
        if self.width % (1 << self._xsub) or self.height % (1 << self._ysub):
            raise ValueError(f"a {pix_fmt} picture needs even sizes, not {size}")
        self._chroma_width = self.width >> self._xsub
        luma = self.width * self.height
        chroma = (self.height >> self._ysub) * self._chroma_width
        self._plane_sizes = (luma, chroma)
        self._rows: list[Array] = []
        frame = (luma + 2 * chroma) * (1 if self.bits == 8 else 2)
        super().__init__(read_end, frame, BATCH_FRAMES, frame, group)

    def _measure(self, data: bytes) -> None:
        import numpy as np

        luma, chroma = self._plane_sizes
        kind = np.uint8 if self.bits == 8 else np.uint16
        frames = np.frombuffer(data, dtype=kind).reshape(-1, luma + 2 * chroma)
        n = frames.shape[0]
        y, u, v = frames[:, :luma], frames[:, luma : luma + chroma], frames[:, luma + chroma :]
        scale = 1 << (self.bits - 8)
        low, y_span, c_span = kind(16 * scale), kind(219 * scale), kind(224 * scale)
        # Unsigned: below the range wraps round to above it, so one comparison finds both.
        y_out = np.subtract(y, low, dtype=kind) > y_span
        c_out = (np.subtract(u, low, dtype=kind) > c_span) | (
            np.subtract(v, low, dtype=kind) > c_span
        )
        # A Y pixel counts when it or the chroma sample it uses (x >> xsub, y >> ysub) is
        # outside: every pixel of an outside chroma sample's block, plus the outside Y pixels
        # of the other blocks. Outside pixels are few, so they are looked up one by one.
        flat = np.flatnonzero(y_out)
        frame, at = np.divmod(flat, luma)
        row, column = np.divmod(at, self.width)
        sample = (row >> self._ysub) * self._chroma_width + (column >> self._xsub)
        both = np.bincount(frame[c_out[frame, sample]], minlength=n)
        c_frames = np.flatnonzero(c_out) // chroma
        block = 1 << (self._xsub + self._ysub)
        outside = np.bincount(frame, minlength=n) + block * np.bincount(c_frames, minlength=n)
        share = (outside - both) / luma
        stats = [f(p, axis=1) for p in (y, u, v) for f in (np.min, np.max)]
        self._rows.append(np.column_stack([*stats, share]).astype(np.float64))

    def result(self) -> PictureLevels:
        """The measurements of every frame the run wrote (call after the run has ended)."""
        import numpy as np

        self._finished()
        rows = np.concatenate(self._rows) if self._rows else np.zeros((0, len(COLUMNS)))
        return PictureLevels(rows, self.bits)
