"""Watch folders on the fake store: which files count, when a file is complete, pairing,
never twice, and what a finished job leaves behind (:mod:`kickflow.watch`).

Time is a hand-moved clock, so "unchanged for the settle time" is a step, not a sleep. The
API path runs the real app in-process (``tests/fakes/api.py``) behind an httpx transport.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.config import Settings
from kickflow.errors import WatchFolderNotAllowed, WatchFolderUnusable, WatchTokenRefused
from kickflow.jobs import JobState
from kickflow.watch import (
    STATE_FILE,
    ApiSubmitter,
    Delivery,
    Outcome,
    Seen,
    Settle,
    StoreSubmitter,
    Watcher,
    WatchOptions,
    check_folder,
    check_under_roots,
    deliveries,
    free_name,
    held_by_writer,
    idempotency_key,
    kind_of,
    owner_of,
    service_options,
)
from tests.fakes import FakeClock, FakeJobStore
from tests.fakes.api import ApiRig, api_rig

MEDIA = b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)) * 8  # binary: passes the upload sniff
SRT = "1\n00:00:01,000 --> 00:00:02,000\nHello.\n\n"
SETTLE = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- which names count ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("EP01.mov", "media"),
        ("EP01.MXF", "media"),
        ("mix.wav", "media"),
        ("EP01.en.srt", "subtitle"),
        ("EP01.fr.vtt", "subtitle"),
        ("EP01.ttml", "subtitle"),
        (".EP01.mov", None),
        ("EP01.mov.part", None),
        ("EP01.mov.tmp", None),
        ("EP01.mov.crdownload", None),
        ("~$EP01.mov", None),
        ("EP01.mov.kickflow.json", None),
        ("notes.txt", None),
        ("EP01", None),
    ],
)
def test_only_media_and_subtitle_names_count(name: str, kind: str | None) -> None:
    assert kind_of(name) == kind


def test_a_subtitle_goes_with_the_media_whose_stem_starts_it() -> None:
    media = ["EP01.mov", "EP01_v2.mov", "EP010.mov", "s2/EP01.mov"]
    assert owner_of("EP01.en.srt", media) == "EP01.mov"
    assert owner_of("EP01.srt", media) == "EP01.mov"
    assert owner_of("ep01_fr.vtt", media) == "EP01.mov"
    assert owner_of("EP01_v2.en.srt", media) == "EP01_v2.mov"
    assert owner_of("EP010.en.srt", media) == "EP010.mov"
    assert owner_of("s2/EP01.de.srt", media) == "s2/EP01.mov"
    assert owner_of("EP02.en.srt", media) is None
    assert owner_of("s3/EP01.en.srt", media) is None


def test_media_waits_for_its_subtitle_files_to_settle() -> None:
    seen = {r: Seen(r, 10, 1) for r in ("EP01.mov", "EP01.en.srt", "EP02.mov", "x.srt")}
    ready = deliveries(seen, {"EP01.mov", "EP02.mov", "x.srt"})
    assert ready == [Delivery(seen["EP02.mov"])]
    ready = deliveries(seen, set(seen))
    assert ready == [Delivery(seen["EP01.mov"], (seen["EP01.en.srt"],)), Delivery(seen["EP02.mov"])]


def test_the_key_is_the_path_size_and_time() -> None:
    key = idempotency_key(Seen("a/EP01.mov", 10, 5))
    assert key == idempotency_key(Seen("a/EP01.mov", 10, 5))
    assert len(key) <= 200
    others = [Seen("b/EP01.mov", 10, 5), Seen("a/EP01.mov", 11, 5), Seen("a/EP01.mov", 10, 6)]
    assert all(idempotency_key(o) != key for o in others)


# --- when a file is complete ------------------------------------------------------------------


def test_a_file_settles_only_after_being_unchanged_for_the_settle_time() -> None:
    clock = Clock()
    settle = Settle(SETTLE, clock)
    assert settle.observe({"a.mov": Seen("a.mov", 1, 1)}) == set()
    clock.now += 3
    assert settle.observe({"a.mov": Seen("a.mov", 2, 2)}) == set()  # grew: starts again
    clock.now += 4
    assert settle.observe({"a.mov": Seen("a.mov", 2, 2)}) == set()
    clock.now += 1.5
    assert settle.observe({"a.mov": Seen("a.mov", 2, 2)}) == {"a.mov"}
    assert settle.observe({}) == set()  # gone: forgotten
    assert settle.observe({"a.mov": Seen("a.mov", 2, 2)}) == set()


def test_a_file_locked_by_a_writer_is_not_complete(tmp_path: Path) -> None:
    path = tmp_path / "a.mov"
    path.write_bytes(b"x")
    assert not held_by_writer(path)
    with path.open("ab") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        assert held_by_writer(path)
        fcntl.flock(writer, fcntl.LOCK_UN)
    assert not held_by_writer(path)


# --- the folder itself --------------------------------------------------------------------------


def test_a_folder_that_cannot_be_used_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(WatchFolderUnusable, match="does not exist"):
        check_folder(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(WatchFolderUnusable, match="is not a directory"):
        check_folder(tmp_path / "file")
    if os.geteuid() != 0:  # root reads everything
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o000)
        with pytest.raises(WatchFolderUnusable, match="cannot be read and written"):
            check_folder(locked)


def test_the_direct_path_needs_the_folder_under_the_allowed_roots(tmp_path: Path) -> None:
    settings = Settings(allowed_roots=str(tmp_path / "media"))
    check_under_roots(tmp_path / "media" / "in", settings)
    with pytest.raises(WatchFolderNotAllowed, match="outside KICKFLOW_ALLOWED_ROOTS"):
        check_under_roots(tmp_path / "elsewhere", settings)


def test_the_service_settings_name_the_folders(tmp_path: Path) -> None:
    dirs = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    settings = Settings(
        watch_dirs=dirs, watch_profile="broadcast", watch_results="sidecar", watch_project="S1"
    )
    options = service_options(settings)
    assert [o.folder for o in options] == [tmp_path / "a", tmp_path / "b"]
    assert {(o.profile, o.results, o.project) for o in options} == {("broadcast", "sidecar", "S1")}
    assert service_options(Settings()) == []


def test_a_taken_name_gets_one_suffix_for_the_media_and_its_subtitles(tmp_path: Path) -> None:
    (tmp_path / "EP01.mov").write_bytes(b"old")
    got = free_name(tmp_path, ["EP01.mov", "EP01.en.srt"], "EP01.mov")
    assert got == [tmp_path / "EP01 (1).mov", tmp_path / "EP01 (1).en.srt"]
    (tmp_path / "EP01 (1).en.srt").write_text("old")
    got = free_name(tmp_path, ["EP01.mov", "EP01.en.srt"], "EP01.mov")
    assert got == [tmp_path / "EP01 (2).mov", tmp_path / "EP01 (2).en.srt"]


# --- the watcher on the fake store ------------------------------------------------------------


class Rig:
    def __init__(self, tmp_path: Path, results: str = "move") -> None:
        self.media = tmp_path / "media"
        self.folder = self.media / "hot"
        self.folder.mkdir(parents=True)
        settings = Settings(data_dir=tmp_path / "data", allowed_roots=str(self.media))
        self.store = FakeJobStore(settings, clock=FakeClock())
        self.org = self.store.ensure_org("local")
        self.clock = Clock()
        self.lines: list[str] = []
        self.options = WatchOptions(self.folder, results=results, settle_seconds=SETTLE)

    def watcher(self) -> Watcher:
        submitter = StoreSubmitter(self.store, self.org, self.store.settings)
        return Watcher(self.options, submitter, self.lines.append, self.clock)

    def settle(self, watcher: Watcher) -> None:
        """Two polls the settle time apart: everything unchanged is complete."""
        watcher.poll()
        self.clock.now += SETTLE + 1
        watcher.poll()

    def jobs(self) -> list[Any]:
        return self.store.list_jobs(self.org, limit=200).jobs

    def finish(self, verdict: str) -> None:
        (claimed,) = self.store.claim("w1")
        self.store.complete(claimed.lease, verdict, {"findings": [{"check": "x"}] * 2})


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield Rig(tmp_path)


def test_a_complete_file_is_submitted_once_with_its_subtitles(rig: Rig) -> None:
    (rig.folder / "EP01.mov").write_bytes(b"media")
    (rig.folder / "EP01.en.srt").write_text(SRT)
    watcher = rig.watcher()
    watcher.poll()
    assert rig.jobs() == []  # seen once: not known to be complete yet
    rig.clock.now += SETTLE + 1
    watcher.poll()
    (job,) = rig.jobs()
    assert (job.source_type, job.source_ref) == ("path", str(rig.folder / "EP01.mov"))
    assert [s.name for s in job.inputs.subtitles] == ["EP01.en.srt"]
    assert job.idempotency_key == idempotency_key(Seen("EP01.mov", 5, rig_mtime(rig, "EP01.mov")))
    for _ in range(3):
        rig.clock.now += SETTLE + 1
        watcher.poll()
    assert len(rig.jobs()) == 1
    assert rig.lines == [f"EP01.mov with EP01.en.srt: submitted as job {job.id}"]


def rig_mtime(rig: Rig, rel: str) -> int:
    return (rig.folder / rel).stat().st_mtime_ns


def test_a_restart_does_not_post_again_and_the_key_covers_a_lost_state(rig: Rig) -> None:
    (rig.folder / "EP01.mov").write_bytes(b"media")
    rig.settle(rig.watcher())
    (job,) = rig.jobs()
    state = json.loads((rig.folder / STATE_FILE).read_text())
    assert state["files"]["EP01.mov"]["job_id"] == job.id
    restarted = rig.watcher()
    rig.settle(restarted)
    assert rig.lines == [f"EP01.mov: submitted as job {job.id}"]
    (rig.folder / STATE_FILE).unlink()
    rig.settle(rig.watcher())
    assert [j.id for j in rig.jobs()] == [job.id]  # posted again, answered with the first job


def test_a_finished_job_moves_the_file_and_its_subtitles(rig: Rig) -> None:
    (rig.folder / "EP01.mov").write_bytes(b"media")
    (rig.folder / "EP01.en.srt").write_text(SRT)
    (rig.folder / "passed").mkdir()
    (rig.folder / "passed" / "EP01.mov").write_bytes(b"an older delivery")
    watcher = rig.watcher()
    rig.settle(watcher)
    rig.finish("passed")
    watcher.poll()
    assert sorted(p.name for p in (rig.folder / "passed").iterdir()) == [
        "EP01 (1).en.srt",
        "EP01 (1).mov",
        "EP01.mov",
    ]
    assert (rig.folder / "passed" / "EP01.mov").read_bytes() == b"an older delivery"
    assert not (rig.folder / "EP01.mov").exists()
    rig.settle(watcher)  # the result folder is never watched
    assert len(rig.jobs()) == 1
    assert json.loads((rig.folder / STATE_FILE).read_text())["files"] == {}


def test_failed_and_cancelled_jobs_go_to_failed(rig: Rig) -> None:
    (rig.folder / "EP01.mov").write_bytes(b"media")
    (rig.folder / "EP02.mov").write_bytes(b"media")
    watcher = rig.watcher()
    rig.settle(watcher)
    _, second = sorted(rig.jobs(), key=lambda j: j.file_name)
    rig.store.cancel(rig.org, second.id)
    rig.finish("needs_review")
    watcher.poll()
    assert (rig.folder / "needs_review" / "EP01.mov").exists()
    assert (rig.folder / "failed" / "EP02.mov").exists()


def test_a_job_deleted_meanwhile_ends_the_wait(rig: Rig) -> None:
    (rig.folder / "EP01.mov").write_bytes(b"media")
    watcher = rig.watcher()
    rig.settle(watcher)
    (job,) = rig.jobs()
    rig.store.delete_job(rig.org, job.id)
    watcher.poll()
    assert (rig.folder / "failed" / "EP01.mov").exists()
    assert watcher.idle()


def test_sidecar_results_describe_the_job_beside_the_file(tmp_path: Path) -> None:
    rig = Rig(tmp_path, results="sidecar")
    (rig.folder / "EP01.mov").write_bytes(b"media")
    watcher = rig.watcher()
    rig.settle(watcher)
    rig.finish("needs_review")
    watcher.poll()
    (job,) = rig.jobs()
    written = json.loads((rig.folder / "EP01.mov.kickflow.json").read_text())
    assert written == {
        "file": "EP01.mov",
        "jobId": job.id,
        "state": "completed",
        "verdict": "needs_review",
        "error": None,
        "findings": 2,
        "reportUrl": f"http://127.0.0.1:8000/jobs/{job.id}",
    }
    rig.settle(watcher)  # still there, never again
    assert len(rig.jobs()) == 1
    assert (rig.folder / "EP01.mov").exists()
    (rig.folder / "EP01.mov").unlink()  # taken away: forgotten
    watcher.poll()
    assert json.loads((rig.folder / STATE_FILE).read_text())["files"] == {}


def test_a_refused_subtitle_file_fails_the_delivery_with_its_sentence(rig: Rig) -> None:
    (rig.folder / "EP01.mov").write_bytes(b"media")
    (rig.folder / "EP01.en.srt").write_bytes(b"\x00\x01 not subtitles \xff" * 10)
    rig.settle(rig.watcher())
    assert rig.jobs() == []
    assert (rig.folder / "failed" / "EP01.mov").exists()
    assert (rig.folder / "failed" / "EP01.en.srt").exists()
    assert rig.lines[0].startswith("EP01.mov: refused (")
    assert "EP01.en.srt" in rig.lines[0] and str(rig.folder) not in rig.lines[0]


def test_hidden_partial_and_other_files_are_never_submitted(rig: Rig) -> None:
    names = [".EP01.mov", "EP02.mov.part", "~$EP03.mov", "EP04.crdownload", "notes.txt"]
    for name in names:
        (rig.folder / name).write_bytes(b"x")
    (rig.folder / ".trash").mkdir()
    (rig.folder / ".trash" / "EP05.mov").write_bytes(b"x")
    os.symlink(rig.folder / "notes.txt", rig.folder / "EP06.mov")
    watcher = rig.watcher()
    rig.settle(watcher)
    assert rig.jobs() == []
    assert watcher.idle()


def test_idle_waits_for_files_still_settling_and_jobs_still_running(rig: Rig) -> None:
    (rig.folder / "EP01.mov").write_bytes(b"media")
    watcher = rig.watcher()
    watcher.poll()
    assert not watcher.idle()
    rig.clock.now += SETTLE + 1
    watcher.poll()
    assert not watcher.idle()  # its job is not finished
    rig.finish("passed")
    watcher.poll()
    assert watcher.idle()


def test_outcomes_pick_their_result_folder() -> None:
    assert Outcome("j", "completed", "passed").folder == "passed"
    assert Outcome("j", "completed", "needs_review").folder == "needs_review"
    assert Outcome("j", "completed", "failed").folder == "failed"
    assert Outcome("j", "failed").folder == "failed"
    assert Outcome(None, "refused").folder == "failed"


# --- through the API (the real app, in-process) -------------------------------------------------


class RigTransport(httpx.BaseTransport):
    """Sends the watcher's requests to the in-process app of an :class:`ApiRig`."""

    def __init__(self, rig: ApiRig) -> None:
        self.rig = rig

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        reply = self.rig.client.request(
            request.method, str(request.url), headers=dict(request.headers), content=body
        )
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)


def test_through_the_api_each_file_is_uploaded_once_with_its_subtitles(tmp_path: Path) -> None:
    with api_rig(tmp_path) as api:
        folder = tmp_path / "outside-roots"
        folder.mkdir()
        (folder / "EP01.mov").write_bytes(MEDIA)
        (folder / "EP01.en.srt").write_text(SRT)
        clock, lines = Clock(), list[str]()
        submitter = ApiSubmitter("http://testserver", api.tokens["member"], RigTransport(api))
        options = WatchOptions(folder, project="S1", settle_seconds=SETTLE)
        watcher = Watcher(options, submitter, lines.append, clock)
        watcher.poll()
        clock.now += SETTLE + 1
        watcher.poll()
        (job,) = api.store.list_jobs(api.org).jobs
        assert (job.source_type, job.file_name, job.file_size) == ("upload", "EP01.mov", len(MEDIA))
        assert job.project == "S1"
        assert [s.name for s in job.inputs.subtitles] == ["EP01.en.srt"]
        (folder / STATE_FILE).unlink()  # a lost state: posted again, the key answers
        again = Watcher(options, submitter, lines.append, clock)
        again.poll()
        clock.now += SETTLE + 1
        again.poll()
        assert [j.id for j in api.store.list_jobs(api.org).jobs] == [job.id]
        api.store.cancel(api.org, job.id)
        assert api.store.get(api.org, job.id).state is JobState.CANCELLED
        again.poll()
        assert (folder / "failed" / "EP01.mov").exists()
        assert (folder / "failed" / "EP01.en.srt").exists()


def test_through_the_api_a_bad_token_stops_the_watcher(tmp_path: Path) -> None:
    with api_rig(tmp_path) as api:
        folder = tmp_path / "hot"
        folder.mkdir()
        (folder / "EP01.mov").write_bytes(b"media")
        clock = Clock()
        submitter = ApiSubmitter("http://testserver", "not-a-token", RigTransport(api))
        watcher = Watcher(WatchOptions(folder, settle_seconds=SETTLE), submitter, print, clock)
        watcher.poll()
        clock.now += SETTLE + 1
        with pytest.raises(WatchTokenRefused, match="refused the token"):
            watcher.poll()
        assert (folder / "EP01.mov").exists()
