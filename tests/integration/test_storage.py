"""The storage port: the same behaviours on the data directory and on a real S3 server.

S3 is SeaweedFS (tests/fixtures_s3.py), with signatures checked. Files are generated on the
fly; "nothing left behind" is checked by listing the directory or the bucket (objects and
multipart uploads still open).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kickflow.config import Settings
from kickflow.errors import (
    AnalysisAborted,
    ChecksumMismatch,
    StorageError,
    StoredObjectMissing,
    TooManyFiles,
    UnsafeConfiguration,
    UnsafeFileName,
    UploadEmpty,
    UploadTooLarge,
)
from kickflow.storage import LocalStorage, Storage, StoredObject, UploadBatch, open_storage
from kickflow.storage.s3 import PART_SIZE, S3Config, S3Storage
from tests.fixtures_s3 import S3Bucket
from tests.fixtures_server import free_port

ORG = "org-1"
MiB = 1024 * 1024
LIMIT = 32 * MiB
BIG = 20 * MiB
CHUNK = 64 * 1024


def pattern(size: int, seed: int = 1) -> Iterator[bytes]:
    """``size`` pseudo-random bytes in chunks, the same for the same seed (never all at once)."""
    rnd = random.Random(seed)
    for start in range(0, size, CHUNK):
        yield rnd.randbytes(min(CHUNK, size - start))


def tail_sha256(size: int, offset: int, seed: int = 1) -> str:
    digest, position = hashlib.sha256(), 0
    for chunk in pattern(size, seed):
        digest.update(chunk[max(0, offset - position) :])
        position += len(chunk)
    return digest.hexdigest()


def status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> int:
    """Reset the process's peak RSS (Linux clear_refs) and return the current RSS."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return status_bytes("VmRSS")


def store(storage: Storage, name: str, data: bytes) -> str:
    with storage.batch(ORG) as batch:
        batch.start_file(name)
        batch.write(data)
        [stored] = batch.commit()
    return stored.ref


def ignore(done: int, total: int | None) -> None:
    pass


@dataclass
class Backend:
    storage: Storage
    leftovers: Callable[[], list[str]]  # every stored thing, to check nothing is left
    tamper: Callable[[str, bytes], None]  # replace a stored upload's bytes behind our back
    bucket: S3Bucket | None = None


def local_backend(tmp_path: Path) -> Backend:
    data_dir = tmp_path / "data"
    storage = LocalStorage(data_dir, LIMIT)

    def leftovers() -> list[str]:
        return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())

    def tamper(ref: str, data: bytes) -> None:
        (storage.root / ref).write_bytes(data)

    return Backend(storage, leftovers, tamper)


def s3_backend(bucket: S3Bucket, tmp_path: Path) -> Backend:
    settings = Settings(data_dir=tmp_path, **bucket.settings())
    storage = S3Storage(S3Config.from_settings(settings), LIMIT)

    def leftovers() -> list[str]:
        return bucket.keys() + [f"open multipart upload {k}" for k in bucket.open_uploads()]

    def tamper(ref: str, data: bytes) -> None:
        key = storage.upload_key(ref)
        bucket.server.client().put_object(Bucket=bucket.name, Key=key, Body=data)

    return Backend(storage, leftovers, tamper, bucket)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return local_backend(tmp_path)
    return s3_backend(request.getfixturevalue("s3_bucket"), tmp_path)


# --- uploads ---------------------------------------------------------------------------------


def test_a_big_file_streams_through_in_parts_with_bounded_memory(backend: Backend) -> None:
    storage, expected = backend.storage, hashlib.sha256()
    before = reset_peak_rss()
    with storage.batch(ORG) as batch:
        batch.start_file("episode.mxf")
        for chunk in pattern(BIG):
            expected.update(chunk)
            batch.write(chunk)
        [stored] = batch.commit()
    growth = status_bytes("VmHWM") - before
    assert re.fullmatch(rf"{ORG}/[0-9a-f]{{32}}/episode\.mxf", stored.ref)
    assert (stored.name, stored.size, stored.sha256) == ("episode.mxf", BIG, expected.hexdigest())
    assert storage.stat(stored.ref) == StoredObject(stored.ref, BIG, expected.hexdigest())
    # At most one part in memory: the peak grows by about one part, never by the whole file.
    assert batch.buffer_high_water <= PART_SIZE
    assert growth < PART_SIZE + 6 * MiB, f"peak RSS grew by {growth / MiB:.1f} MiB"
    if backend.bucket:  # three parts: 8 + 8 + 4 MiB
        head = backend.bucket.server.client().head_object(
            Bucket=backend.bucket.name, Key=f"uploads/{stored.ref}"
        )
        assert head["ETag"].strip('"').endswith("-3")
    offset = PART_SIZE + 12_345  # a ranged read from inside the second part
    got = hashlib.sha256()
    for chunk in storage.read(stored.ref, start=offset):
        got.update(chunk)
    assert got.hexdigest() == tail_sha256(BIG, offset)


def test_reads_from_an_offset_and_hands_out_a_url_or_a_path(backend: Backend) -> None:
    storage, data = backend.storage, os.urandom(300_000)
    ref = store(storage, "clip one.mov", data)
    assert b"".join(storage.read(ref, start=123_456)) == data[123_456:]
    assert b"".join(storage.read(ref, start=len(data))) == b""
    chunks = list(storage.read(ref, chunk_size=65_536))
    assert max(map(len, chunks)) <= 65_536 and b"".join(chunks) == data
    url, path = storage.presigned_url(ref, 60), storage.local_path(ref)
    if storage.kind == "local":
        assert url is None and path is not None and path.read_bytes() == data
        return
    assert path is None and url is not None
    whole = httpx.get(url, timeout=10)
    assert whole.status_code == 200 and whole.content == data
    resumed = httpx.get(url, headers={"Range": "bytes=1000-"}, timeout=10)
    assert resumed.status_code == 206 and resumed.content == data[1000:]
    forged = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, url)
    assert httpx.get(forged, timeout=10).status_code == 403


def test_fetch_copies_and_checks_the_sha256(backend: Backend, tmp_path: Path) -> None:
    storage, data = backend.storage, os.urandom(200_000)
    ref = store(storage, "clip.mov", data)
    dest = tmp_path / "attempt"
    dest.mkdir()
    progress: list[tuple[int, int | None]] = []
    copy = storage.fetch(ref, dest, lambda done, total: progress.append((done, total)))
    assert copy == dest / "clip.mov" and copy.read_bytes() == data
    assert progress[-1] == (len(data), len(data))
    copy.unlink()

    def abort(done: int, total: int | None) -> None:
        raise AnalysisAborted("cancelled")

    with pytest.raises(AnalysisAborted):
        storage.fetch(ref, dest, abort)
    assert list(dest.iterdir()) == []  # an aborted copy is removed

    changed = data[:-1] + bytes([data[-1] ^ 1])
    backend.tamper(ref, changed)
    with pytest.raises(ChecksumMismatch) as err:
        storage.fetch(ref, dest, ignore)
    assert hashlib.sha256(data).hexdigest() in err.value.message
    assert hashlib.sha256(changed).hexdigest() in err.value.message
    assert not err.value.permanent and list(dest.iterdir()) == []


def test_remove_deletes_the_upload_and_its_checksum(backend: Backend) -> None:
    storage = backend.storage
    ref = store(storage, "clip.mov", b"media" * 1000)
    assert len(backend.leftovers()) == 2  # the file and its sidecar
    assert storage.remove(ref) is True
    assert backend.leftovers() == []
    with pytest.raises(StoredObjectMissing):
        storage.stat(ref)
    with pytest.raises(StoredObjectMissing):
        storage.read(ref)
    assert storage.remove(ref) is False
    for bad in ("../x/y", f"{ORG}/abc/.sha256", "a/b", f"{ORG}/../../etc/passwd", ""):
        assert storage.remove(bad) is False
        with pytest.raises(StoredObjectMissing):
            storage.stat(bad)


def test_artifacts_are_kept_per_job(backend: Backend) -> None:
    storage = backend.storage
    key = storage.put_artifact(ORG, "job-a", "thumb.png", b"png one")
    storage.put_artifact(ORG, "job-a", "wave.svg", b"<svg/>")
    other = storage.put_artifact(ORG, "job-b", "thumb.png", b"png two")
    assert key == f"artifacts/{ORG}/job-a/thumb.png"
    assert storage.read_artifact(key) == b"png one" and storage.read_artifact(other) == b"png two"
    with pytest.raises(UnsafeFileName):
        storage.put_artifact(ORG, "job-a", "../escape.png", b"x")
    storage.remove_job_artifacts(ORG, "job-a")
    with pytest.raises(StoredObjectMissing):
        storage.read_artifact(key)
    assert storage.read_artifact(other) == b"png two"
    storage.remove_job_artifacts(ORG, "job-b")
    assert backend.leftovers() == []


def _too_large(batch: UploadBatch) -> None:
    batch.start_file("a.mov")
    for chunk in pattern(10 * MiB):
        batch.write(chunk)
    batch.start_file("b.mov")  # a multipart upload is open when the limit is crossed
    for chunk in pattern(LIMIT, seed=2):
        batch.write(chunk)


def _too_many(batch: UploadBatch) -> None:
    for name in ("a.mov", "b.mov", "c.mov"):
        batch.start_file(name)
        batch.write(b"x" * 1000)


def _empty(batch: UploadBatch) -> None:
    batch.start_file("a.mov")
    batch.write(b"x" * 1000)
    batch.start_file("b.mov")
    batch.commit()


def _unsafe(batch: UploadBatch) -> None:
    batch.start_file("a.mov")
    batch.write(b"x" * 1000)
    batch.start_file(".profile")


def _fails_after_commit(batch: UploadBatch) -> None:
    for name in ("a.mov", "b.mov"):
        batch.start_file(name)
        batch.write(b"x" * (PART_SIZE + 1000))
    batch.commit()
    raise RuntimeError("the job store refused the jobs")


REFUSALS = {
    "too_large": (_too_large, UploadTooLarge),
    "too_many_files": (_too_many, TooManyFiles),
    "empty_file": (_empty, UploadEmpty),
    "unsafe_name": (_unsafe, UnsafeFileName),
    "failure_after_commit": (_fails_after_commit, RuntimeError),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_request_leaves_nothing_behind(backend: Backend, case: str) -> None:
    scenario, refusal = REFUSALS[case]
    with pytest.raises(refusal), backend.storage.batch(ORG, max_files=2) as batch:
        scenario(batch)
    assert backend.leftovers() == []


def test_health_is_ok(backend: Backend) -> None:
    status, message, details = backend.storage.health()
    assert status == "ok" and message and details["kind"] == backend.storage.kind


def test_open_storage_follows_the_settings(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    local = open_storage(Settings(data_dir=tmp_path))
    s3 = open_storage(Settings(data_dir=tmp_path, **s3_bucket.settings(s3_prefix="/qc/")))
    assert (local.kind, s3.kind) == ("local", "s3")
    ref = store(s3, "clip.mov", b"media")
    assert s3_bucket.keys() == [f"qc/uploads/{ref}", f"qc/uploads/{ref}.sha256"]


# --- S3 failures ---------------------------------------------------------------------------


def s3_storage(tmp_path: Path, bucket: S3Bucket, **override: str) -> S3Storage:
    settings = Settings(data_dir=tmp_path, **{**bucket.settings(), **override})
    return S3Storage(S3Config.from_settings(settings), LIMIT)


def test_an_unreachable_object_store_fails_fast(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    """A loopback port with nothing listening: StorageError in seconds, health "error"."""
    dead = f"http://127.0.0.1:{free_port()}"
    storage = s3_storage(tmp_path, s3_bucket, s3_endpoint_url=dead)
    began = time.monotonic()
    status, message, _ = storage.health()
    assert status == "error" and "unreachable" in message
    assert time.monotonic() - began < 5
    began = time.monotonic()
    with pytest.raises(StorageError) as err, storage.batch(ORG) as batch:
        batch.start_file("clip.mov")
        batch.write(b"x" * 1000)
        batch.commit()
    assert time.monotonic() - began < 20
    assert not isinstance(err.value, StoredObjectMissing) and not err.value.permanent
    assert "cannot be reached" in err.value.message and "127.0.0.1" not in err.value.message
    with pytest.raises(StorageError) as stat_err:
        storage.stat(f"{ORG}/abc/clip.mov")
    assert not isinstance(stat_err.value, StoredObjectMissing)


def test_signatures_are_checked(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    storage = s3_storage(tmp_path, s3_bucket, s3_secret_access_key="not-the-secret")
    status, message, _ = storage.health()
    assert status == "error" and "refused the credentials" in message
    with pytest.raises(StorageError) as err:
        store(storage, "clip.mov", b"media")
    assert "refused the credentials" in err.value.message
    assert s3_bucket.keys() == []


def test_a_missing_bucket_is_reported(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    storage = s3_storage(tmp_path, s3_bucket, s3_bucket="kf-no-such-bucket")
    status, message, _ = storage.health()
    assert status == "error" and "bucket does not exist" in message


def test_s3_needs_a_bucket_name(tmp_path: Path) -> None:
    with pytest.raises(UnsafeConfiguration, match="KICKFLOW_S3_BUCKET is empty"):
        open_storage(Settings(data_dir=tmp_path, storage="s3"))


@pytest.mark.slow
def test_uploads_survive_a_restart_of_the_object_store(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    storage = s3_storage(tmp_path, s3_bucket)
    data = os.urandom(100_000)
    ref = store(storage, "clip.mov", data)
    s3_bucket.server.restart()
    assert storage.stat(ref).sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(storage.read(ref)) == data
    assert storage.health()[0] == "ok"
    assert storage.stat(store(storage, "after.mov", b"more")).size == 4
