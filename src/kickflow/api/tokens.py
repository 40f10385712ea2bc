"""Who calls the API: roles, the caller (:class:`Principal`) and issued tokens.

They live with the accounts in :mod:`kickflow.jobs.accounts` (the job store issues, revokes
and authenticates tokens: ``store.create_token`` …); this module re-exports the names the API
uses.
"""

from __future__ import annotations

from kickflow.jobs.accounts import (
    LAST_USED_RESOLUTION_S,
    ROLES,
    TOKEN_PREFIX,
    USER_ROLES,
    WORKER_ROLE,
    IssuedToken,
    Principal,
    Role,
    TokenInfo,
    hash_token,
    parse_role,
)

__all__ = [
    "LAST_USED_RESOLUTION_S",
    "ROLES",
    "TOKEN_PREFIX",
    "USER_ROLES",
    "WORKER_ROLE",
    "IssuedToken",
    "Principal",
    "Role",
    "TokenInfo",
    "hash_token",
    "parse_role",
]
