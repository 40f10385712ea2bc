"""Hostile inputs never make FFmpeg read outside themselves (real FFmpeg, real PyAV).

A secret WAV is planted outside the upload; every manifest in the generated corpus names it.
Through the engine each file must be refused with one sentence; straight to the analysis (the
content sniffing skipped, raw PCM allowed or not) FFmpeg's own demuxer allow-list must still
keep it out: no report, error or log line may carry the secret's marker, path or measurements.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.engine import check_file
from kickflow.errors import FfmpegError, InputError
from kickflow.jobs import JobState, JobStore
from kickflow.media.analysis import analyse
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.graph import AnalysisOptions
from kickflow.media.model import Measurements
from kickflow.media.probing import ProbeLimits
from kickflow.media.runner import RunLimits
from kickflow.profiles import load_profile
from kickflow.worker import Worker
from tests.hostile_corpus import (
    EXTENSIONS,
    MANIFESTS,
    SECRET_MARKER,
    SECRET_PEAK_DBFS,
    SECRET_SECONDS,
    WRAPPERS,
    Hostile,
    make_secret,
    write_corpus,
)
from tests.integration.test_worker import wait_for

REFUSAL_CODES = {"playlist_refused", "format_refused", "not_media"}


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_secret(tmp_path_factory.mktemp("outside") / "secret.wav")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, secret: Path) -> list[Hostile]:
    return write_corpus(tmp_path_factory.mktemp("upload"), secret, EXTENSIONS)


def is_secret(m: Measurements) -> bool:
    """The measurements are the secret's: its duration or its peak."""
    duration = m.media.duration_s or 0.0
    peak = m.loudness.sample_peak_dbfs if m.loudness else None
    return abs(duration - SECRET_SECONDS) < 0.3 or (
        peak is not None and abs(peak - SECRET_PEAK_DBFS) < 0.3
    )


def leaks(text: str, secret: Path) -> bool:
    return SECRET_MARKER in text or str(secret) in text or secret.name in text


def test_the_secret_fingerprint_is_measurable(secret: Path, tmp_path: Path) -> None:
    """Without this the comparisons below could not fail."""
    report = check_file(secret, load_profile("web"), settings=Settings(data_dir=tmp_path))
    assert is_secret(report.measurements)


def test_corpus_covers_every_manifest_wrapper_and_extension(corpus: list[Hostile]) -> None:
    assert {(h.kind, h.wrapper) for h in corpus} == {(k, w) for k in MANIFESTS for w in WRAPPERS}
    assert {h.path.suffix for h in corpus} == set(EXTENSIONS)


def test_engine_refuses_every_hostile_file_with_one_sentence(
    corpus: list[Hostile], secret: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings, profile = Settings(data_dir=tmp_path), load_profile("web")
    problems = []
    for item in corpus:
        try:
            report = check_file(item.path, profile, settings=settings)
        except InputError as exc:
            message = exc.message
            if exc.code not in REFUSAL_CODES or "\n" in message or item.path.name not in message:
                problems.append(f"{item.path.name}: {exc.code}: {message!r}")
            if leaks(message, secret) or str(item.path.parent) in message:
                problems.append(f"{item.path.name}: message leaks a path: {message!r}")
            continue
        problems.append(f"{item.path.name}: analysed, verdict {report.verdict}")
    assert problems == []
    assert not leaks(caplog.text, secret)


@pytest.mark.parametrize("allow_raw_pcm", [False, True], ids=["raw-refused", "raw-allowed"])
def test_ffmpeg_allow_list_holds_when_sniffing_is_skipped(
    corpus: list[Hostile], secret: Path, allow_raw_pcm: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    binary = find_ffmpeg().path
    limits = ProbeLimits(allow_raw_pcm=allow_raw_pcm)
    problems, analysed, decoder_refused = [], set(), []
    for item in corpus:
        try:
            m = analyse(
                item.path,
                item.path.stat().st_size,
                binary=binary,
                options=AnalysisOptions(),
                limits=RunLimits(stall_seconds=60),
                probe_limits=limits,
            )
        except (InputError, FfmpegError) as exc:
            if leaks(exc.message, secret):
                problems.append(f"{item.path.name}: error leaks: {exc.message!r}")
            if "FFmpeg does not open" in exc.message:
                decoder_refused.append(item.path.name)
            continue
        analysed.add(item.wrapper)  # decoded as the bytes it is, nothing more
        if is_secret(m) or leaks(repr(m), secret):
            problems.append(f"{item.path.name}: measured the secret: {m.media}")
    assert problems == []
    assert not leaks(caplog.text, secret)
    if not allow_raw_pcm:  # only what really is a WAV (its 64 bytes of audio) is decoded
        assert analysed <= {"wav-polyglot"}
    else:  # the probe's build took these for raw audio; the decoding build saw a manifest
        assert "dash-comment.al" in decoder_refused, decoder_refused


def test_worker_fails_hostile_jobs_once_and_runs_the_rest(
    store: JobStore,
    job_settings: Settings,
    secret: Path,
    short_clip: Path,
    run_worker: Callable[..., Worker],
) -> None:
    root = job_settings.allowed_root_paths()[0]
    hostile = write_corpus(root, secret, EXTENSIONS)[::7]  # one of each manifest kind and more
    org = store.ensure_org()
    bad = [store.enqueue(org, "path", str(h.path), file_name=h.path.name) for h in hostile]
    good = store.enqueue(org, "path", str(short_clip), file_name=short_clip.name)
    run_worker()
    ids = [j.id for j in [*bad, good]]
    wait_for("every job terminal", lambda: all(store.get(org, i).terminal for i in ids), 120)
    for job in bad:
        failed = store.get(org, job.id)
        assert failed.state is JobState.FAILED and failed.attempt == 1
        assert failed.error_code in REFUSAL_CODES
        assert failed.error_message and "refused" in failed.error_message
        assert not leaks(failed.error_message, secret) and str(root) not in failed.error_message
    assert store.get(org, good.id).state is JobState.COMPLETED
