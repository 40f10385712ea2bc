"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory parameters).

The store never sees a password: the sign-in and account pages hash here and hand the store
the encoded hash (which carries its own parameters, so :func:`needs_rehash` can tell when the
parameters have been raised since).
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kickflow.errors import RequestInvalid

MIN_LENGTH = 10
# argon2 takes any length, but hashing a megabyte on every sign-in attempt is a cheap denial
# of service: refuse what nobody types.
MAX_LENGTH = 1024

_HASHER = PasswordHasher()


def _encoded(plain: str) -> bytes:
    # "surrogatepass": a lone surrogate (possible in JSON) hashes instead of raising.
    return plain.encode("utf-8", "surrogatepass")


def hash_password(plain: str) -> str:
    """The stored form of a password: an encoded argon2id hash with a fresh salt."""
    return _HASHER.hash(_encoded(plain))


@cache
def _dummy_hash() -> str:
    return hash_password("not a password: only makes an unknown account cost the same")


def verify_password(stored: str | None, plain: str) -> bool:
    """Whether ``plain`` matches the stored hash. ``stored`` None (no such account) still
    costs one verification, so response times do not tell which accounts exist; a corrupt
    hash or an over-long password is simply no match."""
    if len(plain) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _dummy_hash(), _encoded(plain)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether the hash was made with other parameters than today's (rehash on sign-in)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def check_new_password(plain: str) -> str:
    """``plain`` if it may become a password; RequestInvalid saying which rule it breaks."""
    if len(plain) < MIN_LENGTH:
        raise RequestInvalid(f"the password must be at least {MIN_LENGTH} characters long")
    if len(plain) > MAX_LENGTH:
        raise RequestInvalid(f"the password must be at most {MAX_LENGTH} characters long")
    if len(set(plain)) == 1:
        raise RequestInvalid("the password must not be one character repeated")
    return plain
