"""End to end with the real engine (FFmpeg on a generated clip): a job submitted through the API
with an organisation's custom profile is judged by that profile — the text it was submitted
with, not a later version — while the built-in it extends passes the same clip."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kickflow.jobs import Job
from kickflow.profiles import catalog
from kickflow.worker.pipeline import AttemptContext, default_engine, run_attempt
from tests.fakes.api import ApiRig, api_rig
from tests.fixtures_media import run_ffmpeg_cli

# A web master: about -14 LUFS, peaks far below -1 dBTP (the `web` profile passes it).
TONES = "aevalsrc=0.2*sin(2*PI*997*t)|0.2*sin(2*PI*661*t):s=48000:d=6"
BROADCAST = 'extends = "web"\n[loudness]\ntarget_lufs = -23.0\ntolerance_above_lu = 1.0\n'
LIKE_WEB = 'extends = "web"\ndescription = "the same as web"\n'


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    with api_rig(tmp_path, max_file_mb=100) as r:
        yield r


@pytest.fixture
def clip(rig: ApiRig) -> Path:
    target = rig.media / "master.wav"
    run_ffmpeg_cli(["-f", "lavfi", "-i", TONES, "-c:a", "pcm_s16le", str(target)])
    return target


def submit(rig: ApiRig, clip: Path, profile: str) -> str:
    body = {"source": {"type": "path", "path": str(clip)}, "profile": profile}
    made = rig.post("/api/qc/jobs", role="member", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def run_all(rig: ApiRig) -> None:
    """Run every queued job once with the real engine, as a worker would."""
    context = AttemptContext(rig.store, rig.store.settings, default_engine(), threading.Event())
    while claimed := rig.store.claim("w1"):
        assert run_attempt(context, claimed[0]) == "completed"


def loudness_findings(job: Job) -> list[dict[str, object]]:
    assert job.report is not None
    return [f for f in job.report["findings"] if f["check"] == "audio.loudness"]


def test_a_custom_profile_judges_the_job_submitted_with_it(rig: ApiRig, clip: Path) -> None:
    catalog.save_profile(rig.store, rig.org, "broadcast-web", BROADCAST, None)
    builtin = submit(rig, clip, "web")
    custom = submit(rig, clip, "broadcast-web")
    run_all(rig)
    passed, failed = rig.store.get(rig.org, builtin), rig.store.get(rig.org, custom)
    assert passed.verdict == "passed" and loudness_findings(passed) == []
    assert failed.verdict == "failed"
    [finding] = loudness_findings(failed)
    assert finding["severity"] == "error"
    assert failed.report is not None and failed.report["profile"]["name"] == "broadcast-web"


def test_replacing_the_profile_never_changes_a_submitted_job(rig: ApiRig, clip: Path) -> None:
    catalog.save_profile(rig.store, rig.org, "house", BROADCAST, None)
    before = submit(rig, clip, "house")
    catalog.save_profile(rig.store, rig.org, "house", LIKE_WEB, None)  # now it would pass
    after = submit(rig, clip, "house")
    catalog.save_profile(rig.store, rig.org, "house", BROADCAST, None)
    rig.store.delete_org_profile(rig.org, "house")  # gone altogether before any job runs
    run_all(rig)
    assert rig.store.get(rig.org, before).verdict == "failed", "judged by the text it carried"
    assert rig.store.get(rig.org, after).verdict == "passed"
