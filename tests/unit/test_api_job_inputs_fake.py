"""Subtitle files and the source timecode through ``POST /api/qc/jobs`` in-process on the fake
store: a path submission's ``subtitles`` and ``timecodeStart``, an upload's ``subtitles`` parts
(one media file takes them all; several pair by name), every bad input a 422 that names the
file or the field with nothing queued or stored, the job's view, and deletion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.jobs import JobInputs, Sidecar
from tests.fakes.api import ApiRig, api_rig

JOBS = "/api/qc/jobs"
SRT = b"1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n"
VTT = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nBonjour.\n"
NOTES = b"Delivery notes.\nEpisode 3 is late.\n"
MEDIA = b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)) * 8  # binary: passes the upload sniff


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    with api_rig(tmp_path, max_subtitle_files=2, max_subtitle_mb=0.001) as r:
        yield r


def refused(reply: httpx.Response) -> str:
    """The sentence of a 422 (the API's one error shape)."""
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"]["code"] == "validation_error"
    return str(reply.json()["error"]["message"])


def on_disk(rig: ApiRig, name: str, content: bytes) -> str:
    path = rig.media / name
    path.write_bytes(content)
    return str(path)


def submit_path(rig: ApiRig, **body: Any) -> httpx.Response:
    media = on_disk(rig, "EP01.mov", MEDIA)
    return rig.post(JOBS, role="member", json={"source": {"type": "path", "path": media}, **body})


def stored_files(rig: ApiRig) -> list[str]:
    """The names of the files in upload storage (without the storage's own checksum files)."""
    uploads = rig.services.settings.data_dir / "uploads"
    found = uploads.rglob("*") if uploads.exists() else iter(())
    return sorted(p.name for p in found if p.is_file() and not p.name.startswith("."))


# --- path submissions ---------------------------------------------------------------------------


def test_a_path_job_carries_its_subtitle_files_and_timecode(rig: ApiRig) -> None:
    en, fr = on_disk(rig, "EP01.en.srt", SRT), on_disk(rig, "EP01.fr.vtt", VTT)
    reply = submit_path(
        rig, subtitles=[{"path": en}, {"type": "path", "path": fr}], timecodeStart="09:59:50;00"
    )
    assert reply.status_code == 201, reply.text
    job = rig.store.get(rig.org, reply.json()["id"])
    assert job.inputs == JobInputs(
        (
            Sidecar("path", en, "EP01.en.srt", len(SRT)),
            Sidecar("path", fr, "EP01.fr.vtt", len(VTT)),
        ),
        "09:59:50;00",
    )
    view = rig.get(f"{JOBS}/{job.id}", role="viewer").json()["inputs"]
    assert view == {
        "timecodeStart": "09:59:50;00",
        "subtitles": [
            {"name": "EP01.en.srt", "size": len(SRT), "source": {"type": "path", "path": en}},
            {"name": "EP01.fr.vtt", "size": len(VTT), "source": {"type": "path", "path": fr}},
        ],
    }
    assert reply.json()["inputs"] == view, "the submitter sees what was attached"


def test_the_snake_case_timecode_is_accepted_and_a_plain_job_has_no_inputs(rig: ApiRig) -> None:
    reply = submit_path(rig, timecode_start="10:00:00:00")
    assert reply.status_code == 201, reply.text
    assert rig.store.get(rig.org, reply.json()["id"]).inputs == JobInputs((), "10:00:00:00")
    plain = submit_path(rig)
    assert rig.store.get(rig.org, plain.json()["id"]).inputs == JobInputs()
    assert plain.json()["inputs"] == {"timecodeStart": None, "subtitles": []}


@pytest.mark.parametrize(
    ("timecode", "says"),
    [
        ("25:00:00:00", "timecode_start: '25:00:00:00' is not a timecode: hours go to 23"),
        ("ten o'clock", "timecode_start: 'ten o'clock' is not a timecode: write HH:MM:SS:FF"),
    ],
)
def test_a_bad_timecode_is_a_422_naming_the_field(rig: ApiRig, timecode: str, says: str) -> None:
    assert refused(submit_path(rig, timecode_start=timecode)).startswith(says)
    assert refused(submit_path(rig, timecodeStart=timecode)).startswith(
        says.replace("timecode_start", "timecodeStart")
    )
    assert rig.store.list_jobs(rig.org).jobs == []


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("EP01.en.srt", NOTES, "subtitles: EP01.en.srt is not a subtitle file"),
        ("EP01.en.srt", b"", "subtitles: EP01.en.srt is empty (0 bytes)"),
        ("EP01.en.srt", SRT * 100, "subtitles: EP01.en.srt is 0.0 MB, more than a subtitle"),
        ("EP01.en.xyz", b"\x00\x01" * 10, "subtitles: EP01.en.xyz is binary data"),
    ],
)
def test_a_bad_subtitle_path_is_a_422_naming_the_file(
    rig: ApiRig, name: str, content: bytes, says: str
) -> None:
    good = on_disk(rig, "EP01.fr.vtt", VTT)
    reply = submit_path(rig, subtitles=[{"path": good}, {"path": on_disk(rig, name, content)}])
    message = refused(reply)
    assert message.startswith(says), message
    assert str(rig.media) not in message, "no server path beyond the one submitted"
    assert rig.store.list_jobs(rig.org).jobs == []


def test_subtitle_paths_follow_the_main_files_root_rules(rig: ApiRig) -> None:
    outside = "/etc/passwd"
    assert refused(submit_path(rig, subtitles=[{"path": outside}])) == (
        "subtitles: /etc/passwd is outside the allowed roots"
    )
    missing = str(rig.media / "gone.srt")
    assert refused(submit_path(rig, subtitles=[{"path": missing}])) == (
        f"subtitles: file not found: {missing}"
    )
    link = rig.media / "link.srt"
    link.symlink_to(on_disk(rig, "real.srt", SRT))
    assert "symbolic link" in refused(submit_path(rig, subtitles=[{"path": str(link)}]))
    assert rig.store.list_jobs(rig.org).jobs == []


def test_more_subtitle_files_than_a_job_takes_is_a_422(rig: ApiRig) -> None:
    paths = [{"path": on_disk(rig, f"EP01.{n}.srt", SRT)} for n in ("en", "fr", "de")]
    assert refused(submit_path(rig, subtitles=paths)) == (
        "subtitles: 3 subtitle files: a job takes at most 2 (KICKFLOW_MAX_SUBTITLE_FILES)."
    )


# --- uploads ------------------------------------------------------------------------------------


def upload(
    rig: ApiRig, media: list[str], subtitles: list[tuple[str, bytes]], **fields: str
) -> httpx.Response:
    files = [("file", (name, MEDIA, "video/quicktime")) for name in media]
    files += [("subtitles", (name, content, "text/plain")) for name, content in subtitles]
    return rig.post(JOBS, role="member", files=files, data=fields)


def test_one_uploaded_media_file_takes_every_subtitle_file(rig: ApiRig) -> None:
    reply = upload(
        rig, ["take.mov"], [("en.srt", SRT), ("fr.vtt", VTT)], timecodeStart="01:00:00:00"
    )
    assert reply.status_code == 201, reply.text
    job = rig.store.get(rig.org, reply.json()["id"])
    assert [(s.source_type, s.name, s.size) for s in job.inputs.subtitles] == [
        ("upload", "en.srt", len(SRT)),
        ("upload", "fr.vtt", len(VTT)),
    ]
    assert job.inputs.timecode_start == "01:00:00:00"
    storage = rig.services.storage
    assert [b"".join(storage.read(s.source_ref)) for s in job.inputs.subtitles] == [SRT, VTT]
    view = reply.json()["inputs"]["subtitles"]
    assert view[0] == {"name": "en.srt", "size": len(SRT), "source": {"type": "upload"}}


def test_several_media_files_pair_with_subtitles_by_name(rig: ApiRig) -> None:
    reply = upload(
        rig,
        ["EP01.mov", "EP01_v2.mov", "EP02.mov"],
        [("EP01.en.srt", SRT), ("ep02_FR.vtt", VTT), ("EP01_v2.en.srt", SRT), ("EP01.srt", SRT)],
    )
    assert reply.status_code == 201, reply.text
    jobs = {j["fileName"]: rig.store.get(rig.org, j["id"]) for j in reply.json()["jobs"]}
    names = {media: [s.name for s in job.inputs.subtitles] for media, job in jobs.items()}
    assert names == {
        "EP01.mov": ["EP01.en.srt", "EP01.srt"],
        "EP01_v2.mov": ["EP01_v2.en.srt"],
        "EP02.mov": ["ep02_FR.vtt"],
    }


def test_a_subtitle_file_that_fits_no_media_file_refuses_the_upload(rig: ApiRig) -> None:
    reply = upload(rig, ["EP01.mov", "EP02.mov"], [("EP01.en.srt", SRT), ("EP03.en.srt", SRT)])
    assert refused(reply) == (
        "subtitles: EP03.en.srt goes with none of the media files (EP01.mov, EP02.mov): name a "
        "subtitle file after its video, e.g. EP01.en.srt."
    )
    assert rig.store.list_jobs(rig.org).jobs == [] and stored_files(rig) == []


@pytest.mark.parametrize(
    ("subtitle", "says"),
    [
        (("EP01.en.srt", NOTES), "subtitles: EP01.en.srt is not a subtitle file"),
        (("EP01.en.srt", b""), "subtitles: EP01.en.srt is empty (0 bytes)"),
        (("EP01.en.srt", SRT * 100), "subtitles: EP01.en.srt is 0.0 MB, more than a subtitle"),
    ],
)
def test_a_bad_uploaded_subtitle_file_refuses_the_upload(
    rig: ApiRig, subtitle: tuple[str, bytes], says: str
) -> None:
    reply = upload(rig, ["EP01.mov", "EP02.mov"], [("EP02.fr.vtt", VTT), subtitle])
    assert refused(reply).startswith(says), reply.text
    assert rig.store.list_jobs(rig.org).jobs == [] and stored_files(rig) == []


def test_too_many_subtitle_files_for_one_media_file_refuses_the_upload(rig: ApiRig) -> None:
    subtitles = [(f"EP01.{n}.srt", SRT) for n in ("en", "fr", "de")]
    assert refused(upload(rig, ["EP01.mov"], subtitles)) == (
        "subtitles: 3 subtitle files for EP01.mov: a job takes at most 2 "
        "(KICKFLOW_MAX_SUBTITLE_FILES)."
    )
    assert stored_files(rig) == []


def test_a_bad_timecode_in_an_upload_is_a_422_and_nothing_is_kept(rig: ApiRig) -> None:
    reply = upload(rig, ["EP01.mov"], [("EP01.en.srt", SRT)], timecodeStart="99:00:00:00")
    assert refused(reply).startswith("timecodeStart: '99:00:00:00' is not a timecode")
    assert rig.store.list_jobs(rig.org).jobs == [] and stored_files(rig) == []


def test_subtitle_files_without_media_are_refused(rig: ApiRig) -> None:
    reply = upload(rig, [], [("EP01.en.srt", SRT)])
    assert reply.status_code == 400 and "at least one file" in reply.json()["error"]["message"]
    assert stored_files(rig) == []


def test_deleting_a_job_removes_its_uploaded_subtitle_files(rig: ApiRig) -> None:
    reply = upload(rig, ["EP01.mov"], [("EP01.en.srt", SRT)])
    job_id = reply.json()["id"]
    assert stored_files(rig) == ["EP01.en.srt", "EP01.mov"]
    assert rig.request("DELETE", f"{JOBS}/{job_id}", role="member").status_code == 200
    assert stored_files(rig) == []


def test_a_repeated_keyed_upload_keeps_no_second_copy_of_its_subtitles(rig: ApiRig) -> None:
    first = upload(rig, ["EP01.mov"], [("EP01.en.srt", SRT)], idempotencyKey="delivery-7")
    again = upload(rig, ["EP01.mov"], [("EP01.en.srt", SRT)], idempotencyKey="delivery-7")
    assert first.json()["id"] == again.json()["id"]
    assert stored_files(rig) == ["EP01.en.srt", "EP01.mov"], "the second request's are gone"
