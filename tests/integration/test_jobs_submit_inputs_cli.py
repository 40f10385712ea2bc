"""``kickflow jobs submit`` with ``--subtitles`` and ``--timecode-start`` as a real process:
the subtitle files go with the media files they are named after (a path where the workers may
read it, else a copy in storage), the timecode with every job; a bad subtitle file or timecode
is one sentence, exit 2, and nothing is queued or copied."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.jobs import JobStore

SRT = "1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n"


@pytest.fixture
def env(job_settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "KICKFLOW_DATABASE_URL": job_settings.database_url,
        "KICKFLOW_DATA_DIR": str(job_settings.data_dir),
        "KICKFLOW_ALLOWED_ROOTS": job_settings.allowed_roots,
    }


def submit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kickflow", "jobs", "submit", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def delivery(job_settings: Settings, tmp_path: Path) -> Path:
    """Two episodes under the allowed roots, one subtitle file there and one outside."""
    media = Path(job_settings.allowed_roots.split(os.pathsep)[0])
    for name in ("EP01.mov", "EP02.mov"):
        (media / name).write_bytes(bytes(range(256)) * 16)
    (media / "EP01.en.srt").write_text(SRT, encoding="utf-8")
    outside = tmp_path / "vendor"
    outside.mkdir()
    (outside / "EP02.fr.srt").write_text(SRT, encoding="utf-8")
    return media


def test_subtitles_go_with_the_episodes_they_are_named_after(
    env: dict[str, str], store: JobStore, delivery: Path, tmp_path: Path
) -> None:
    done = submit(
        env, str(delivery / "EP01.mov"), str(delivery / "EP02.mov"),
        "--subtitles", str(delivery / "EP01.en.srt"), "-s", str(tmp_path / "vendor/EP02.fr.srt"),
        "--timecode-start", "10:00:00:00",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    jobs = {j.file_name: j for j in (store.get(None, i) for i in done.stdout.split())}
    first, second = jobs["EP01.mov"].inputs, jobs["EP02.mov"].inputs
    assert [(s.source_type, s.source_ref, s.name) for s in first.subtitles] == [
        ("path", str(delivery / "EP01.en.srt"), "EP01.en.srt")
    ]
    [copied] = second.subtitles
    assert (copied.source_type, copied.name, copied.size) == ("upload", "EP02.fr.srt", len(SRT))
    assert "EP02.fr.srt: copied into storage" in done.stderr
    assert first.timecode_start == second.timecode_start == "10:00:00:00"


@pytest.mark.parametrize(
    ("extra", "sentence"),
    [
        (["-s", "EP01.notes.srt"], "kickflow: EP01.notes.srt is not a subtitle file"),
        (["-s", "EP09.en.srt"], "kickflow: EP09.en.srt goes with none of the media files"),
        (["--timecode-start", "25:00:00:00"], "kickflow: '25:00:00:00' is not a timecode"),
    ],
)
def test_a_bad_subtitle_file_or_timecode_queues_nothing(
    env: dict[str, str],
    store: JobStore,
    delivery: Path,
    tmp_path: Path,
    extra: list[str],
    sentence: str,
) -> None:
    (tmp_path / "EP01.notes.srt").write_text(
        "Delivery notes.\nEpisode 3 is late.\n", encoding="utf-8"
    )
    (tmp_path / "EP09.en.srt").write_text(SRT, encoding="utf-8")
    args = [a if not a.endswith(".srt") else str(tmp_path / a) for a in extra]
    done = submit(env, str(delivery / "EP01.mov"), str(delivery / "EP02.mov"), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(sentence) and "Traceback" not in done.stderr
    assert store.list_jobs(None).jobs == []
    uploads = Path(env["KICKFLOW_DATA_DIR"]) / "uploads"
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))
