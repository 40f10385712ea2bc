"""Benchmark: what timed text costs, apart from the decode — reading a subtitle file and
running the subtitle.* checks on it (pure Python, after FFmpeg).

For each format (SRT, WebVTT, TTML, ASS) a programme's file of ``--cues`` cues (1,500 is a
feature film; 100,000 is the loader's cap) is generated, then, ``--repeat`` times:
  (a) parse: ``parse_subtitle_bytes`` (encoding, structure, pysubs2 / expat);
  (b) checks: every subtitle.* check with the timed-text profile.
Prints the median wall time of each and the cues per second.

    .venv/bin/python benchmarks/bench_subtitles.py [--cues 1500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures_subtitles import WRITERS, CueSpec, cue

from kickflow.checks import run_check
from kickflow.media.model import Measurements, MediaInfo
from kickflow.profiles import CHECK_IDS, load_profile
from kickflow.subtitles.load import parse_subtitle_bytes

SUBTITLE_CHECKS = [c for c in CHECK_IDS if c.startswith("subtitle.") and c != "subtitle.language"]


def programme(count: int) -> list[CueSpec]:
    """``count`` two-line cues of 2 s, 2.5 s apart, some of them breaking a rule."""
    return [
        cue(i * 2.5, i * 2.5 + 2.0, f"Line {i} of the dialogue,", "and its second half.")
        for i in range(count)
    ]


def median_s(work: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cues", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cues, profile = programme(args.cues), load_profile("timed-text")
    duration = args.cues * 2.5 + 10
    media = MediaInfo("bench.mov", 1, "mov", duration, None)
    print(f"{args.cues:,} cues, median of {args.repeat}")
    print(f"{'format':8} {'parse ms':>10} {'checks ms':>10} {'cues/s (parse)':>16}")
    for fmt, (ext, write) in WRITERS.items():
        data = write(cues).encode()
        parsed = parse_subtitle_bytes(data, f"bench.en{ext}")
        assert parsed.error is None and len(parsed.cues) == args.cues, parsed.error
        m = Measurements(media=media, subtitles=(parsed,), shot_changes=())
        parse = median_s(lambda d=data, e=ext: parse_subtitle_bytes(d, f"bench.en{e}"), args.repeat)
        checks = median_s(
            lambda m=m: [run_check(c, m, profile) for c in SUBTITLE_CHECKS], args.repeat
        )
        rate = args.cues / parse
        print(f"{fmt:8} {parse * 1000:10.1f} {checks * 1000:10.1f} {rate:16,.0f}")


if __name__ == "__main__":
    main()
