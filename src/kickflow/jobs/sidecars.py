"""Subtitle files delivered beside a job's media ("sidecars"): the rules every door applies
before a job is queued (the API's path and upload submissions, the Submit page, ``kickflow
check``), the pairing of subtitle files with the media files of one upload, and the worker's
copy of each into the attempt's directory.

A sidecar comes from the same sources as the main file (``path`` under the allowed roots,
``upload`` in storage), with the same descriptor walk, and is refused with one sentence that
names the file as it was delivered, never a server path. The content check itself (empty,
too big, unknown format, not subtitles) is the timed-text loader's
(:func:`kickflow.subtitles.load.check_subtitle_file`).

Pairing, for an upload with several media files (what a vendor's coordinator sends: the
episodes and their subtitle files in one go): a subtitle file goes with the media file whose
name, without its extension, starts its own name — ``EP01.mov`` takes ``EP01.en.srt``,
``EP01_fr.vtt`` and ``EP01.srt`` — the longest such name winning (``EP01_v2.mov`` takes
``EP01_v2.en.srt``); case is ignored. With one media file every subtitle file goes with it,
whatever its name. A subtitle file that fits no media file refuses the whole upload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from kickflow.config import Settings
from kickflow.errors import InputError, SubtitleRefused
from kickflow.jobs import sources
from kickflow.jobs.models import Sidecar

STEM_SEPARATORS = "._- "
SUBTITLE_SUFFIXES = frozenset({".srt", ".vtt", ".ttml", ".xml", ".dfxp", ".ass", ".ssa"})
# What a delivery's media files are called (a watch folder, a Drive folder): the rest is left.
MEDIA_SUFFIXES = frozenset(
    {
        ".mov", ".mp4", ".m4v", ".mxf", ".mkv", ".webm", ".ts", ".m2ts", ".mts", ".mpg",
        ".mpeg", ".avi", ".wav", ".aif", ".aiff", ".flac", ".mp3", ".m4a", ".aac", ".ac3",
        ".eac3", ".w64", ".rf64", ".ogg", ".opus", ".mka",
    }
)  # fmt: skip
OnBytes = Callable[[int, int | None], None]


def max_bytes(settings: Settings) -> int:
    """The largest subtitle file accepted (KICKFLOW_MAX_SUBTITLE_MB, decimal megabytes)."""
    return int(settings.max_subtitle_mb * 1_000_000)


def too_big_message(name: str, size: int, limit: int) -> str:
    return (
        f"{name} is {size / 1_000_000:.1f} MB, more than a subtitle file may be "
        f"({limit / 1_000_000:g} MB, KICKFLOW_MAX_SUBTITLE_MB)."
    )


def check_count(count: int, settings: Settings, media_name: str | None = None) -> None:
    """SubtitleRefused when a job would carry more subtitle files than allowed."""
    limit = settings.max_subtitle_files
    if count > limit:
        what = f" for {media_name}" if media_name else ""
        raise SubtitleRefused(
            f"{count} subtitle files{what}: a job takes at most {limit} "
            "(KICKFLOW_MAX_SUBTITLE_FILES)."
        )


def check_file(path: Path, name: str, settings: Settings) -> None:
    """The loader's cheap check of a local copy (SubtitleRefused naming ``name``)."""
    from kickflow.subtitles.load import check_subtitle_file

    check_subtitle_file(path, name, max_bytes=max_bytes(settings))


def capped(name: str, limit: int) -> OnBytes:
    """An ``on_bytes`` that stops a copy as soon as it passes ``limit`` bytes (a file that
    grew after it was inspected must not fill the disk)."""

    def on_bytes(done: int, total: int | None) -> None:
        if done > limit:
            raise SubtitleRefused(too_big_message(name, done, limit))

    return on_bytes


def fetch(
    sidecar: Sidecar, dest_dir: Path, settings: Settings, source: sources.Source | None = None
) -> Path:
    """Copy the sidecar into ``dest_dir`` (created) through its source (``source``: one bound
    to the job, as a Drive source is), size-capped; InputError subclasses (SubtitleRefused
    among them) with one sentence naming it."""
    source = source or sources.get_source(sidecar.source_type)
    info = source.inspect(sidecar.source_ref, settings)
    limit = max_bytes(settings)
    if info.size is not None and info.size > limit:
        raise SubtitleRefused(too_big_message(sidecar.name, info.size, limit))
    dest_dir.mkdir(parents=True, exist_ok=True)
    return source.fetch(sidecar.source_ref, dest_dir, settings, capped(sidecar.name, limit))


def inspect_path(ref: str, settings: Settings, scratch: Path) -> Sidecar:
    """A subtitle file submitted by path: under the allowed roots (the main file's rules),
    within the size limit, and subtitles by the loader's check of a copy in ``scratch``."""
    info = sources.inspect("path", ref, settings)
    sidecar = Sidecar("path", ref, info.file_name, info.size)
    copy = fetch(sidecar, scratch, settings)
    check_file(copy, sidecar.name, settings)
    return sidecar


def unavailable_message(name: str, exc: InputError) -> str:
    """Why a delivered subtitle file could not be fetched for an attempt, naming it."""
    if isinstance(exc, SubtitleRefused):
        return exc.message
    return f"{name} could not be fetched: {exc.message.rstrip('.')}."


# --- pairing with the media files of one upload -----------------------------------------------


def _stem(name: str) -> str:
    return PurePosixPath(name).stem.casefold()


def _fits(subtitle: str, stem: str) -> bool:
    own = _stem(subtitle)
    return own == stem or (own.startswith(stem) and own[len(stem)] in STEM_SEPARATORS)


def media_for(subtitle: str, media: Sequence[str]) -> int | None:
    """The index of the media file ``subtitle`` goes with (the module docstring's rule)."""
    if len(media) == 1:
        return 0
    fitting = [(len(_stem(m)), i) for i, m in enumerate(media) if _fits(subtitle, _stem(m))]
    return max(fitting)[1] if fitting else None


def pair(media: Sequence[str], subtitles: Sequence[str], settings: Settings) -> list[list[int]]:
    """For each media file (by index), the indices of its subtitle files; SubtitleRefused
    for a subtitle file that fits none, or a media file given too many."""
    paired: list[list[int]] = [[] for _ in media]
    for index, name in enumerate(subtitles):
        owner = media_for(name, media)
        if owner is None:
            shown = ", ".join(media[:5]) + (" …" if len(media) > 5 else "")
            raise SubtitleRefused(
                f"{name} goes with none of the media files ({shown}): name a subtitle file "
                f"after its video, e.g. {PurePosixPath(media[0]).stem}.en.srt."
            )
        paired[owner].append(index)
    for name, own in zip(media, paired, strict=True):
        check_count(len(own), settings, name)
    return paired
