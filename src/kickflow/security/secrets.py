"""Secrets kept at rest (OAuth refresh tokens, webhook signing secrets), encrypted.

The keys come from ``KICKFLOW_SECRET_KEY``: a comma-separated list, the first key encrypts and
every key decrypts, so rotation is "put the new key first, re-encrypt, drop the old one later".
Each key is any string an operator chooses; it is stretched into a Fernet key (AES-128-CBC +
HMAC-SHA256, authenticated) with HKDF, so a short or non-base64 key still works.

Without ``KICKFLOW_SECRET_KEY`` a single-machine service keeps a random key in
``KICKFLOW_DATA_DIR/secret.key`` (created once, mode 0600), so ``kickflow serve`` works out of
the box; a fleet sets the variable on every node that reads secrets.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kickflow.config import Settings
from kickflow.errors import SecretUnreadable

KEY_FILE = "secret.key"
_SALT = b"kickflow secrets at rest"


def _fernet(key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"fernet").derive(
        key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _key_file(data_dir: Path) -> str:
    """The data directory's key, made on first use (readable by this user only)."""
    path = data_dir / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


def configured_keys(settings: Settings) -> list[str]:
    """The keys in order (the first encrypts): KICKFLOW_SECRET_KEY's, else the data
    directory's key file."""
    keys = [k.strip() for k in settings.secret_key.split(",") if k.strip()]
    return keys or [_key_file(settings.data_dir)]


class SecretBox:
    """Encrypts and decrypts short secrets as text tokens safe to store in any column."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("SecretBox needs at least one key")
        self._box = MultiFernet([_fernet(k) for k in keys])
        self._current = _fernet(keys[0])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(configured_keys(settings))

    def encrypt(self, plaintext: str) -> str:
        return self._box.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext; SecretUnreadable when no configured key opens it."""
        try:
            return self._box.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretUnreadable() from None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` was encrypted with the first key (False: rotate it)."""
        try:
            self._current.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError, ValueError):
            return False
        return True

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the first key (SecretUnreadable when no key opens it)."""
        try:
            return self._box.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError, ValueError):
            raise SecretUnreadable() from None
