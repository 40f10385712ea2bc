"""A stand-in for the QC engine (``kickflow.engine.check_file``'s signature), so pipeline and
worker tests run without FFmpeg: it reads the file it is given, reports progress through
``on_progress`` like the FFmpeg progress reader, and returns a report or raises."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kickflow.config import Settings
from kickflow.media.inputs import SubtitleInput
from kickflow.profiles import Profile
from kickflow.speech.transcribe import Transcriber

OnProgress = Callable[[float], None]
Script = Callable[[OnProgress], None]
STOP_WAIT_S = 10.0


@dataclass
class FakeReport:
    verdict: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.data


@dataclass
class Seen:
    """What one engine call was given."""

    path: Path
    content: bytes
    profile: str
    settings: Settings | None
    work_dir: Path | None
    display_name: str | None
    timecode_start: str | None = None
    # Each subtitle file handed over: its delivered name and its bytes (None: no file there).
    subtitles: tuple[tuple[str, bytes | None], ...] = ()
    transcriber: Transcriber | None = None  # the one handed over (None: transcription off)


def steady(on_progress: OnProgress) -> None:
    """A healthy analysis: progress from a quarter to the end."""
    for fraction in (0.25, 0.5, 0.75, 1.0):
        on_progress(fraction)


def report_until_stopped(on_progress: OnProgress, fraction: float = 0.5) -> None:
    """Keep reporting progress, as FFmpeg's progress reader does, until the progress path
    raises (lease lost, cancel, pause, release): the heartbeat is due at its own cadence."""
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        on_progress(fraction)
        time.sleep(0.001)
    raise AssertionError("the progress path never asked the engine to stop")


@dataclass
class FakeEngine:
    """``script(on_progress)`` is the analysis (default :func:`steady`); then ``raises`` is
    raised, or a report with ``verdict`` is returned. ``seen`` records every call.
    ``sends_s``: seconds of audio the analysis "sends" through the transcriber it is given,
    within its budget (added to its ``spent_s``, which is how the real one counts it)."""

    script: Script = steady
    sends_s: float = 0.0
    verdict: str = "passed"
    raises: BaseException | None = None
    seen: list[Seen] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)

    def __call__(
        self,
        path: Path,
        profile: Profile,
        *,
        on_progress: OnProgress | None = None,
        settings: Settings | None = None,
        work_dir: Path | None = None,
        display_name: str | None = None,
        timecode_start: str | None = None,
        subtitles: Sequence[SubtitleInput] = (),
        transcriber: Transcriber | None = None,
    ) -> FakeReport:
        content = path.read_bytes()
        given = tuple(
            (s.name, s.path.read_bytes() if s.path.is_file() else None) for s in subtitles
        )
        seen = Seen(path, content, profile.name, settings, work_dir, display_name)
        self.seen.append(
            dataclasses.replace(
                seen, timecode_start=timecode_start, subtitles=given, transcriber=transcriber
            )
        )
        if self.sends_s and transcriber is not None:
            left = transcriber.remaining_s  # as the real one, never past its budget
            transcriber.spent_s += self.sends_s if left is None else min(self.sends_s, left)
        self.entered.set()
        assert on_progress is not None, "the pipeline always passes its progress path"
        self.script(on_progress)
        if self.raises is not None:
            raise self.raises
        data = {"verdict": self.verdict, "file": display_name, "bytes": len(content)}
        return FakeReport(self.verdict, data)
