"""``kickflow check``, ``kickflow doctor`` and ``kickflow demo``: the engine from the shell."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from kickflow.config import Settings
    from kickflow.media.inputs import SubtitleInput
    from kickflow.speech.transcribe import Transcriber

# The engine, the profiles and rich are imported by the command that runs, not for --help
# (start-up: benchmarks/bench_startup.py).

EXIT_FAILED = 1

ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile", "-p", help="Built-in profile name or TOML file.", envvar="KICKFLOW_PROFILE"
    ),
]


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[float], None] | None]:
    """A rich progress bar fed with the engine's fraction; nothing when not on a terminal."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task(label, total=1.0)
        yield lambda fraction: bar.update(task, completed=fraction)


def exit_code(verdict: str, strict: bool) -> int:
    """0 for passed/needs_review (needs_review is 1 with --strict), 1 for failed."""
    if verdict == "failed" or (strict and verdict == "needs_review"):
        return EXIT_FAILED
    return 0


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(target).write_text(text, encoding="utf-8")


def subtitle_inputs(paths: Sequence[Path], settings: Settings) -> list[SubtitleInput]:
    """The ``--subtitles`` files, each pre-checked (missing, empty, too big, not subtitles:
    one sentence and exit 2, before any decode), at most KICKFLOW_MAX_SUBTITLE_FILES."""
    if not paths:
        return []
    from kickflow.errors import SubtitleRefused
    from kickflow.media.inputs import SubtitleInput
    from kickflow.subtitles.load import check_subtitle_file

    limit = settings.max_subtitle_files
    if len(paths) > limit:
        raise SubtitleRefused(
            f"{len(paths)} subtitle files: a check takes at most {limit} "
            "(KICKFLOW_MAX_SUBTITLE_FILES)."
        )
    max_bytes = int(settings.max_subtitle_mb * 1_000_000)
    for path in paths:
        check_subtitle_file(path, path.name, max_bytes=max_bytes)
    return [SubtitleInput(path, path.name) for path in paths]


def transcriber_for(settings: Settings) -> Transcriber | None:
    """The transcription client when a provider key is configured; its module (an HTTP
    client) is imported only then, keeping it out of every other check's start-up."""
    if not settings.resolved_transcription_key():
        return None
    from kickflow.speech.transcribe import transcriber_from_settings

    return transcriber_from_settings(settings)


def check(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="Media file to check.")],
    profile: ProfileOpt = "ebu-r128",
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the JSON report to PATH (- = stdout).")
    ] = None,
    html_out: Annotated[
        str | None, typer.Option("--html", help="Write a self-contained HTML report.")
    ] = None,
    pdf_out: Annotated[
        Path | None,
        typer.Option("--pdf", metavar="PATH", help="Write the report as an A4 PDF to PATH."),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on needs_review.")] = False,
    subtitles: Annotated[
        list[Path] | None,
        typer.Option(
            "--subtitles",
            "-s",
            metavar="FILE",
            help="A subtitle file delivered with INPUT (SRT, WebVTT, TTML, ASS/SSA); "
            "repeat for each.",
        ),
    ] = None,
    timecode_start: Annotated[
        str | None,
        typer.Option(
            "--timecode-start",
            metavar="TC",
            help="Start timecode, HH:MM:SS:FF (HH:MM:SS;FF = drop-frame); overrides the file's.",
            envvar="KICKFLOW_TIMECODE_START",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks on errors.")] = False,
) -> None:
    """Check INPUT against a delivery-spec profile and print the report."""
    from kickflow.media.timecode import parse_timecode_text

    if timecode_start is not None:  # before the profile and the decode: a typo costs nothing
        parse_timecode_text(timecode_start)
    if pdf_out is not None:  # before the decode too
        from kickflow.report_pdf import check_target

        check_target(pdf_out)
    from kickflow.config import get_settings

    settings = get_settings()
    sidecars = subtitle_inputs(subtitles or [], settings)  # before the decode too
    from kickflow.engine import check_file
    from kickflow.profiles import load_profile

    spec = load_profile(profile)
    with progress_bar(sys.stderr.isatty(), f"Checking {input_path.name}") as on_progress:
        report = check_file(
            input_path,
            spec,
            on_progress=on_progress,
            settings=settings,
            timecode_start=timecode_start,
            subtitles=sidecars,
            transcriber=transcriber_for(settings),
        )
    data: dict[str, Any] = report.to_dict()
    if json_out:
        _write(json_out, json.dumps(data, indent=2))
    if html_out:
        from kickflow.report_html import render_html

        _write(html_out, render_html(data))
    if pdf_out:
        from kickflow.report_pdf import write_pdf

        write_pdf(pdf_out, data)  # a local check keeps no thumbnails: a PDF without pictures
    if json_out != "-":
        from rich.console import Console

        from kickflow.report_text import render_text

        Console(soft_wrap=True).print(render_text(data), highlight=False, markup=False)
    raise typer.Exit(exit_code(report.verdict, strict))


def register(app: typer.Typer) -> None:
    from kickflow.cli import doctor

    app.command()(check)
    doctor.register(app)
