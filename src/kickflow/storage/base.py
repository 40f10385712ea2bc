"""What both backends share: the stored object's description and the verified copy."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kickflow.errors import ChecksumMismatch
from kickflow.storage.names import parse_ref

CHUNK = 1024 * 1024
OnBytes = Callable[[int, int | None], None]
Health = tuple[str, str, dict[str, Any]]  # (ok|warning|error, message, details)
SHA256_HEX = 64


@dataclass(frozen=True)
class StoredObject:
    """A stored upload: its reference, size in bytes and SHA-256 (hex)."""

    ref: str
    size: int
    sha256: str


class Readable(Protocol):
    def stat(self, ref: str) -> StoredObject: ...

    def read(self, ref: str, start: int = 0, chunk_size: int = CHUNK) -> Iterator[bytes]: ...


def is_sha256(text: str) -> bool:
    return len(text) == SHA256_HEX and all(c in "0123456789abcdef" for c in text)


def fetch_verified(storage: Readable, ref: str, dest_dir: Path, on_bytes: OnBytes) -> Path:
    """Copy the upload ``ref`` into ``dest_dir`` under its own name, hashing it on the way;
    ChecksumMismatch (the copy is removed) when it differs from the stored SHA-256."""
    stored = storage.stat(ref)
    dest = dest_dir / parse_ref(ref).name
    digest, done = hashlib.sha256(), 0
    try:
        with dest.open("wb") as out:
            for chunk in storage.read(ref):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                on_bytes(done, stored.size)
        if digest.hexdigest() != stored.sha256:
            raise ChecksumMismatch(
                f"upload {ref}: the copy's SHA-256 is {digest.hexdigest()}, the stored file's is "
                f"{stored.sha256}; the download is retried"
            )
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest
