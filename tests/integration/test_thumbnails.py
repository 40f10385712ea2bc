"""Thumbnails at video findings with real FFmpeg, through both kinds of worker.

A direct worker (fake store, its own storage) and an HTTP worker (``HttpWorkerStore`` into the
API in this process) each run a generated clip with a black segment: the picture of the
black segment is stored as the job's artefact, is black, and the report names it. A lost lease
while storing fences the attempt; any other failure leaves the job's report without pictures
and says why.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from kickflow import artifacts
from kickflow.config import Settings
from kickflow.errors import LeaseLost, StorageError, StoredObjectMissing
from kickflow.jobs import Claimed, Job, JobState, Lease
from kickflow.profiles import Profile
from kickflow.storage import open_storage
from kickflow.worker.pipeline import AttemptContext, LocalInputs, QCReport, run_attempt
from kickflow.worker.remote import HttpWorkerStore
from tests.fakes import FakeClock, FakeJobStore
from tests.fakes.api import ApiRig, api_rig
from tests.fixtures_media import LEGAL_PICTURE, av_clip

BLACK_FROM, BLACK_TO = 2.0, 4.0
BLACK_VF = f"{LEGAL_PICTURE},drawbox=t=fill:c=black:enable='between(t,{BLACK_FROM},{BLACK_TO})'"


@pytest.fixture(scope="session")
def black_clip(media_dir: Path) -> Path:
    """6 s of 320x240p25 with a black picture from 2 s to 4 s (a video.black finding)."""
    target = media_dir / "black-segment.mp4"
    return target if target.exists() else av_clip(target, 6, vf=BLACK_VF, size="320x240")


def mean_luma(jpeg: bytes) -> tuple[int, float]:
    """The picture's width and its average luma (0–255)."""
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        frame = next(container.decode(video=0))
        luma = bytes(frame.planes[0])
        return frame.width, sum(luma) / len(luma)


def black_finding(report: dict[str, Any]) -> dict[str, Any]:
    [found] = [f for f in report["findings"] if f["check"] == "video.black"]
    assert found["start_s"] == pytest.approx(BLACK_FROM, abs=0.05)
    return dict(found)


def engine_rewriting(change: dict[str, Any]) -> Any:
    """The real engine, with ``change`` merged into its report's ``media``."""
    from kickflow.engine import check_file

    @dataclass
    class Rewritten:
        verdict: str
        data: dict[str, Any]

        def to_dict(self) -> dict[str, Any]:
            return self.data

    def engine(path: Path, profile: Profile, **kw: Any) -> QCReport:
        report = check_file(path, profile, **kw).to_dict()
        return Rewritten(report["verdict"], report | {"media": report["media"] | change})

    return engine


# --- a direct worker --------------------------------------------------------------------------


@dataclass
class Direct:
    store: FakeJobStore
    settings: Settings
    org: str
    clip: Path

    def submit_and_run(self, inputs: LocalInputs | None = None, engine: Any = None) -> Job:
        from kickflow.engine import check_file

        job = self.store.enqueue(self.org, "path", str(self.clip), file_name="black.mp4")
        [claimed] = self.store.claim("w1")
        ctx = AttemptContext(
            self.store, self.settings, engine or check_file, threading.Event(), inputs
        )
        self.outcome = run_attempt(ctx, claimed)
        return self.store.get(self.org, job.id)

    def phases(self) -> list[str]:
        return list(dict.fromkeys(c.args[2] for c in self.store.db.calls_of("heartbeat")))


@pytest.fixture
def direct(tmp_path: Path, black_clip: Path) -> Direct:
    settings = Settings(
        data_dir=tmp_path / "data",
        allowed_roots=str(black_clip.parent),
        lease_seconds=30.0,
        heartbeat_seconds=0.2,
    )
    store = FakeJobStore(settings, clock=FakeClock())
    return Direct(store, settings, store.ensure_org(), black_clip)


def test_a_direct_worker_stores_the_picture_of_the_black_segment(direct: Direct) -> None:
    job = direct.submit_and_run()
    assert direct.outcome == "completed" and job.state is JobState.COMPLETED
    assert job.report is not None and job.verdict == "failed"
    name = black_finding(job.report)["thumbnail"]
    assert artifacts.listed(job.report) == [name]
    assert name.startswith("a1-") and job.report["thumbnails"]["status"] == "ok"
    stored = open_storage(direct.settings).read_artifact(f"artifacts/{job.org_id}/{job.id}/{name}")
    width, luma = mean_luma(stored)
    assert width == 320 and luma < 20, "the picture is of the black segment"
    [entry] = job.report["artifacts"]
    assert entry["bytes"] == len(stored) and entry["at_s"] == pytest.approx(BLACK_FROM, abs=0.05)
    phases = ["initializing", "downloading", "analyzing", "thumbnails", "reporting"]
    assert direct.phases() == phases


def test_pictures_come_from_the_exact_frame_not_the_keyframe_before(direct: Direct) -> None:
    """The black segment starts 2 s into a clip whose only keyframe is at 0 s: a keyframe
    seek alone would give a picture of the test pattern."""
    job = direct.submit_and_run()
    assert job.report is not None
    name = black_finding(job.report)["thumbnail"]
    data = open_storage(direct.settings).read_artifact(f"artifacts/{job.org_id}/{job.id}/{name}")
    assert mean_luma(data)[1] < 20


class FailingFiles(LocalInputs):
    """Local files whose artefact writes raise ``error``."""

    def __init__(self, settings: Settings, error: Exception) -> None:
        super().__init__(settings)
        self.error = error
        self.puts = 0

    def put_artifact(self, job: Job, lease: Lease, name: str, data: bytes) -> None:
        self.puts += 1
        raise self.error


def test_a_lease_lost_while_storing_pictures_fences_the_attempt(direct: Direct) -> None:
    files = FailingFiles(direct.settings, LeaseLost("job x: this lease is no longer held"))
    job = direct.submit_and_run(inputs=files)
    assert direct.outcome == "fenced" and files.puts == 1
    assert job.state is JobState.RUNNING and job.report is None, "no result was written"
    assert not direct.store.db.calls_of("complete")


class CancellingFiles(LocalInputs):
    """Local files; the job's owner cancels it while its first picture is being stored."""

    def __init__(self, direct: Direct) -> None:
        super().__init__(direct.settings)
        self.direct = direct

    def put_artifact(self, job: Job, lease: Lease, name: str, data: bytes) -> None:
        super().put_artifact(job, lease, name, data)
        self.direct.store.cancel(job.org_id, job.id)


def test_a_cancel_while_storing_pictures_stops_the_job(direct: Direct) -> None:
    job = direct.submit_and_run(inputs=CancellingFiles(direct))
    assert direct.outcome == "cancelled" and job.state is JobState.CANCELLED
    assert job.report is None


def test_a_storage_failure_leaves_the_report_without_pictures(direct: Direct) -> None:
    files = FailingFiles(direct.settings, StorageError("the bucket said no"))
    job = direct.submit_and_run(inputs=files)
    assert direct.outcome == "completed" and job.report is not None
    assert job.report["thumbnails"] == {
        "status": "unavailable",
        "count": 0,
        "wanted": 1,
        "message": "thumbnails unavailable: the bucket said no",
    }
    assert "thumbnail" not in black_finding(job.report) and artifacts.listed(job.report) == []


def test_a_picture_run_ffmpeg_refuses_never_fails_the_job(direct: Direct) -> None:
    """The picture run opens the input only with the demuxer the probe found: told the file
    is Matroska, FFmpeg refuses to open the MP4, and the job still completes."""
    job = direct.submit_and_run(engine=engine_rewriting({"format": "matroska"}))
    assert direct.outcome == "completed" and job.report is not None
    status = job.report["thumbnails"]
    assert status["status"] == "unavailable" and "FFmpeg" in status["message"]
    assert str(direct.clip.parent) not in status["message"], "no server path in the report"


# --- an HTTP worker ---------------------------------------------------------------------------


class InProcess(httpx.BaseTransport):
    """Synchronous requests into the rig's app, on its event loop (the worker client is
    synchronous; the app is ASGI)."""

    def __init__(self, rig: ApiRig) -> None:
        self.portal = rig.client.portal
        self.asgi = httpx.ASGITransport(app=rig.app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            reply = await self.asgi.handle_async_request(request)
            body = await reply.aread()
            return httpx.Response(reply.status_code, headers=reply.headers, content=body)

        return self.portal.call(send)


@dataclass
class Remote:
    rig: ApiRig
    worker: HttpWorkerStore
    settings: Settings

    def claim(self, clip: Path) -> Claimed:
        (self.rig.media / clip.name).write_bytes(clip.read_bytes())
        path = str(self.rig.media / clip.name)
        self.rig.store.enqueue(self.rig.org, "path", path, file_name=clip.name)
        [claimed] = self.worker.claim("http-w1")
        return claimed


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    (tmp_path / "service").mkdir()
    with api_rig(tmp_path / "service") as rig:
        settings = Settings(
            data_dir=tmp_path / "worker-data",
            allowed_roots=str(rig.media),
            lease_seconds=30.0,
            heartbeat_seconds=0.2,
        )
        worker = HttpWorkerStore(
            "http://testserver", rig.tokens["worker"], settings, transport=InProcess(rig)
        )
        try:
            yield Remote(rig, worker, settings)
        finally:
            worker.close()


def test_an_http_worker_stores_the_picture_in_the_services_storage(
    remote: Remote, black_clip: Path
) -> None:
    from kickflow.engine import check_file

    claimed = remote.claim(black_clip)
    worker = remote.worker
    ctx = AttemptContext(worker, remote.settings, check_file, threading.Event(), worker)
    assert run_attempt(ctx, claimed) == "completed"
    job = remote.rig.store.get(remote.rig.org, claimed.job.id)
    assert job.report is not None
    name = black_finding(job.report)["thumbnail"]
    assert artifacts.listed(job.report) == [name]
    key = f"artifacts/{job.org_id}/{job.id}/{name}"
    assert mean_luma(remote.rig.services.storage.read_artifact(key))[1] < 20
    assert not (remote.settings.data_dir / "artifacts").exists(), "nothing kept on the worker"
    reply = remote.rig.get(f"/api/qc/jobs/{job.id}/artifacts/{name}", role="viewer")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
    assert mean_luma(reply.content)[1] < 20


def test_an_http_workers_picture_is_refused_once_its_lease_is_lost(
    remote: Remote, black_clip: Path
) -> None:
    claimed = remote.claim(black_clip)
    # Another worker took the job over: the service refuses this lease's writes (409).
    remote.rig.store.edit(claimed.job.id, lease_token="someone-else")
    with pytest.raises(LeaseLost):
        remote.worker.put_artifact(claimed.job, claimed.lease, "a1-abcdef-thumb-00.jpg", b"jpeg")
    key = f"artifacts/{claimed.job.org_id}/{claimed.job.id}/a1-abcdef-thumb-00.jpg"
    with pytest.raises(StoredObjectMissing):
        remote.rig.services.storage.read_artifact(key)
