"""A job's inputs reach the engine (``run_attempt`` with the fake engine, no FFmpeg): its
subtitle files as copies in the attempt's directory under their delivered names, and its
source timecode; from path sources and upload storage, on a direct worker and on an HTTP
worker (the worker protocol, in-process). A subtitle file that is gone by then is handed over
as an absent file (the loader's finding), and the job still completes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kickflow.config import Settings
from kickflow.jobs import JobInputs, JobState, Sidecar
from kickflow.worker.pipeline import AttemptContext, run_attempt
from kickflow.worker.remote import HttpWorkerStore
from tests.fakes.api import ApiRig, api_rig
from tests.fakes.engine import FakeEngine
from tests.integration.test_thumbnails import InProcess

SRT = b"1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n"
VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nBonjour.\n"
MEDIA = b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)) * 8


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    (tmp_path / "service").mkdir()
    with api_rig(tmp_path / "service", max_subtitle_mb=0.001) as r:
        yield r


def on_disk(rig: ApiRig, name: str, content: bytes) -> str:
    path = rig.media / name
    path.write_bytes(content)
    return str(path)


def run_direct(rig: ApiRig, engine: FakeEngine) -> str:
    [claimed] = rig.store.claim("w1")
    ctx = AttemptContext(rig.store, rig.services.settings, engine, threading.Event())
    return run_attempt(ctx, claimed)


def upload(rig: ApiRig, subtitles: list[tuple[str, bytes]], **fields: str) -> str:
    files = [("file", ("EP01.mov", MEDIA, "video/quicktime"))]
    files += [("subtitles", (name, content, "text/plain")) for name, content in subtitles]
    reply = rig.post("/api/qc/jobs", role="member", files=files, data=fields)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def test_a_direct_worker_hands_path_subtitles_and_the_timecode_to_the_engine(
    rig: ApiRig,
) -> None:
    media = on_disk(rig, "EP01.mov", MEDIA)
    subtitles = (
        Sidecar("path", on_disk(rig, "EP01.en.srt", SRT), "EP01.en.srt"),
        Sidecar("path", on_disk(rig, "fr.vtt", VTT), "EP01.fr.vtt"),  # its delivered name
    )
    inputs = JobInputs(subtitles, "09:59:50;00")
    job = rig.store.enqueue(rig.org, "path", media, file_name="EP01.mov", inputs=inputs)
    engine = FakeEngine()
    assert run_direct(rig, engine) == "completed"
    [seen] = engine.seen
    assert seen.timecode_start == "09:59:50;00"
    assert seen.subtitles == (("EP01.en.srt", SRT), ("EP01.fr.vtt", VTT))
    assert rig.store.get(rig.org, job.id).state is JobState.COMPLETED


def test_a_direct_worker_fetches_uploaded_subtitles_from_storage(rig: ApiRig) -> None:
    upload(rig, [("EP01.en.srt", SRT), ("EP01.fr.vtt", VTT)], timecode_start="10:00:00:00")
    engine = FakeEngine()
    assert run_direct(rig, engine) == "completed"
    assert engine.seen[0].subtitles == (("EP01.en.srt", SRT), ("EP01.fr.vtt", VTT))
    assert engine.seen[0].timecode_start == "10:00:00:00"


def test_a_subtitle_file_gone_by_then_is_handed_over_absent_and_the_job_completes(
    rig: ApiRig,
) -> None:
    media = on_disk(rig, "EP01.mov", MEDIA)
    gone, kept = on_disk(rig, "EP01.en.srt", SRT), on_disk(rig, "EP01.fr.vtt", VTT)
    big = on_disk(rig, "EP01.de.srt", SRT * 100)  # over the limit: grew after submission
    subtitles = tuple(Sidecar("path", p, Path(p).name) for p in (gone, kept, big))
    job = rig.store.enqueue(
        rig.org, "path", media, file_name="EP01.mov", inputs=JobInputs(subtitles)
    )
    Path(gone).unlink()
    engine = FakeEngine()
    assert run_direct(rig, engine) == "completed"
    assert engine.seen[0].subtitles == (
        ("EP01.en.srt", None),
        ("EP01.fr.vtt", VTT),
        ("EP01.de.srt", None),
    )
    assert rig.store.get(rig.org, job.id).state is JobState.COMPLETED


# --- an HTTP worker ---------------------------------------------------------------------------


@pytest.fixture
def remote(rig: ApiRig, tmp_path: Path) -> Iterator[HttpWorkerStore]:
    settings = Settings(
        data_dir=tmp_path / "worker-data",  # not the service's: uploads are downloaded
        allowed_roots=str(rig.media),
        lease_seconds=30.0,
        heartbeat_seconds=0.2,
        max_subtitle_mb=0.001,
    )
    worker = HttpWorkerStore(
        "http://testserver", rig.tokens["worker"], settings, transport=InProcess(rig)
    )
    try:
        yield worker
    finally:
        worker.close()


def run_remote(worker: HttpWorkerStore, engine: FakeEngine) -> str:
    [claimed] = worker.claim("http-w1")
    ctx = AttemptContext(worker, worker.settings, engine, threading.Event(), worker)
    return run_attempt(ctx, claimed)


def test_an_http_worker_downloads_uploaded_subtitles(rig: ApiRig, remote: HttpWorkerStore) -> None:
    job_id = upload(rig, [("EP01.en.srt", SRT), ("EP01.fr.vtt", VTT)], timecodeStart="01:00:00:00")
    engine = FakeEngine()
    assert run_remote(remote, engine) == "completed"
    [seen] = engine.seen
    assert seen.subtitles == (("EP01.en.srt", SRT), ("EP01.fr.vtt", VTT))
    assert seen.timecode_start == "01:00:00:00"
    assert remote.settings.data_dir in seen.path.parents, "a copy on the worker"
    assert rig.store.get(rig.org, job_id).state is JobState.COMPLETED


def test_an_http_worker_reads_path_subtitles_under_its_own_roots(
    rig: ApiRig, remote: HttpWorkerStore
) -> None:
    media, srt = on_disk(rig, "EP01.mov", MEDIA), on_disk(rig, "EP01.en.srt", SRT)
    inputs = JobInputs((Sidecar("path", srt, "EP01.en.srt"),))
    rig.store.enqueue(rig.org, "path", media, file_name="EP01.mov", inputs=inputs)
    engine = FakeEngine()
    assert run_remote(remote, engine) == "completed"
    assert engine.seen[0].subtitles == (("EP01.en.srt", SRT),)


def test_an_uploaded_subtitle_gone_from_storage_is_absent_for_an_http_worker(
    rig: ApiRig, remote: HttpWorkerStore
) -> None:
    job_id = upload(rig, [("EP01.en.srt", SRT), ("EP01.fr.vtt", VTT)])
    first = rig.store.get(rig.org, job_id).inputs.subtitles[0]
    assert rig.services.storage.remove(first.source_ref)
    engine = FakeEngine()
    assert run_remote(remote, engine) == "completed"
    assert engine.seen[0].subtitles == (("EP01.en.srt", None), ("EP01.fr.vtt", VTT))
