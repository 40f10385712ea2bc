"""Checking a password: the sign-in limits, constant-ish timing, and where to go afterwards.

Limits are counted in the store (``sign_in_failures``), so they hold across processes: failed
attempts per account (KICKFLOW_SIGN_IN_MAX_FAILURES) and per client address
(KICKFLOW_SIGN_IN_MAX_FAILURES_PER_ADDRESS) within KICKFLOW_SIGN_IN_WINDOW_MINUTES. An unknown
email costs one password verification like a known one, so timing does not tell them apart.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from kickflow.config import Settings
from kickflow.errors import PermissionDenied, RequestInvalid, SignInThrottled, WrongCredentials
from kickflow.jobs import JobStore, User
from kickflow.jobs.people import normalise_email
from kickflow.security.passwords import verify_password

HOME = "/jobs"
NEXT_MAX = 2000
NO_RETURN = ("/login", "/logout")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (no scheme, no host, no
    ``//host`` or ``/\\host`` that browsers read as another site); else the jobs page."""
    if not value or len(value) > NEXT_MAX or not value.startswith("/"):
        return HOME
    if value.startswith(("//", "/\\")) or "\\" in value or any(ord(c) < 0x21 for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(NO_RETURN):
        return HOME
    return value


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()}"


def address_key(address: str) -> str:
    return f"address:{address}"


def _minutes(seconds: float) -> str:
    n = max(1, math.ceil(seconds / 60))
    return "1 minute" if n == 1 else f"{n} minutes"


class SignIn:
    """The password check of one store with one set of limits."""

    def __init__(self, store: JobStore, settings: Settings) -> None:
        self.store = store
        self.window = settings.sign_in_window_minutes * 60
        self.max_account = settings.sign_in_max_failures
        self.max_address = settings.sign_in_max_failures_per_address

    def check_limits(self, email: str, address: str) -> None:
        """SignInThrottled (429) when this account or this address failed too often lately."""
        if self.store.sign_in_failures(account_key(email), self.window) >= self.max_account:
            raise SignInThrottled(
                self.window,
                f"Too many failed sign-ins for this account: try again in {_minutes(self.window)}.",
            )
        if self.store.sign_in_failures(address_key(address), self.window) >= self.max_address:
            raise SignInThrottled(
                self.window,
                "Too many failed sign-ins from your network address: "
                f"try again in {_minutes(self.window)}.",
            )

    def verify(self, email: str, password: str, address: str) -> User:
        """The user whose email and password these are; WrongCredentials (401) otherwise,
        counted against the account and the address. The limits are checked first."""
        self.check_limits(email, address)
        found = self._find(email)
        user, stored = found if found else (None, None)
        if not verify_password(stored, password) or user is None:
            self.store.note_sign_in_failure([account_key(email), address_key(address)])
            raise WrongCredentials()
        self.store.clear_sign_in_failures(account_key(email))
        if user.disabled:
            raise PermissionDenied("This account is disabled: ask an admin of your organisation.")
        return user

    def _find(self, email: str) -> tuple[User, str] | None:
        try:
            return self.store.user_for_sign_in(normalise_email(email))
        except RequestInvalid:  # not even an address: simply no such account
            return None
