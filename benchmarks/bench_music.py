"""Evaluation: the ``audio.music_bed`` heuristic on generated material, as a confusion table.

Generates (in benchmarks/.cache/music) speech-only programmes (espeak-ng) at three levels, with
and without a room-tone floor; music-only (synthesised chords, bass and noise percussion) at
three levels; speech over music with the music 6–26 dB down; effects-like noise bursts; digital
silence and low room tone. Each one is analysed by the real pass as the only track of a layout
whose role is ``me``, and ``audio.music_bed`` judges it with the default thresholds.

Prints one line per programme (its block states) and the confusion table: "bed found" = the
check found a bed on the track (no whole-track finding), against whether the programme has one.
False-positive rate = speech-only or silent programmes judged to have a bed; false-negative rate
= music, mixed or effects programmes judged to have none.

    .venv/bin/python benchmarks/bench_music.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.music_material import Material, espeak_available, material_set  # noqa: E402

from kickflow.checks import run_check  # noqa: E402
from kickflow.checks.music_bed import block_states  # noqa: E402
from kickflow.engine import options_for  # noqa: E402
from kickflow.media.analysis import analyse  # noqa: E402
from kickflow.media.binaries import find_ffmpeg  # noqa: E402
from kickflow.media.runner import RunLimits  # noqa: E402
from kickflow.profiles import Profile, load_profile  # noqa: E402
from kickflow.profiles.model import TrackSpec  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache" / "music"


def me_profile() -> Profile:
    """The default profile with a one-track layout: an M&E track (no loudness target)."""
    base = load_profile("ebu-r128")
    audio = base.audio.model_copy(update={"tracks": (TrackSpec(role="me", loudness=False),)})
    return base.model_copy(update={"audio": audio})


def judge(material: Material, profile: Profile) -> tuple[bool, str]:
    """Whether the check found a bed on the track, and the block states in short."""
    path = material.path
    m = analyse(
        path,
        path.stat().st_size,
        binary=find_ffmpeg().path,
        options=options_for(profile),
        limits=RunLimits(stall_seconds=60),
    )
    outcome = run_check("audio.music_bed", m, profile)
    whole = [f for f in outcome.findings if f.start_s is None]
    blocks = m.audio.bed_blocks if m.audio is not None else ()
    states = Counter(block_states(blocks, profile.music_bed))
    return not whole, " ".join(f"{k} {v}" for k, v in sorted(states.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    opts = parser.parse_args()
    if not espeak_available():
        sys.exit("espeak-ng is not installed: it makes the speech material")
    profile = me_profile()
    table: Counter[tuple[bool, bool]] = Counter()
    by_kind: Counter[tuple[str, bool]] = Counter()
    print(f"{'programme':>26} {'has bed':>7} {'found':>5}  blocks")
    for material in material_set(CACHE, opts.seconds):
        found, states = judge(material, profile)
        table[(material.has_bed, found)] += 1
        by_kind[(material.kind, found == material.has_bed)] += 1
        mark = "" if found == material.has_bed else "  <- wrong"
        print(f"{material.name:>26} {material.has_bed!s:>7} {found!s:>5}  {states}{mark}")
    print()
    print(f"{'':>16} {'found':>6} {'not found':>10}")
    for truth, label in ((True, "has a bed"), (False, "has none")):
        print(f"{label:>16} {table[(truth, True)]:>6} {table[(truth, False)]:>10}")
    negatives = table[(False, True)] + table[(False, False)]
    positives = table[(True, True)] + table[(True, False)]
    fp, fn = table[(False, True)], table[(True, False)]
    print(f"false-positive rate {fp / max(1, negatives):.0%} ({fp}/{negatives}), "
          f"false-negative rate {fn / max(1, positives):.0%} ({fn}/{positives})")  # fmt: skip
    kinds = sorted({k for k, _ in by_kind})
    print("right per kind: " + ", ".join(
        f"{k} {by_kind[(k, True)]}/{by_kind[(k, True)] + by_kind[(k, False)]}" for k in kinds
    ))  # fmt: skip


if __name__ == "__main__":
    main()
