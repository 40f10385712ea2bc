"""Organisations and API tokens of the fake store, with the rules of
:mod:`kickflow.jobs.accounts`: the same name rules (:func:`~kickflow.jobs.accounts.check_label`),
roles (:func:`~kickflow.jobs.accounts.parse_role`), token hashing
(:func:`~kickflow.jobs.accounts.hash_token`) and last-used resolution; only the secret is made
here (the product makes it inline, as this does: a prefix and 32 random bytes)."""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from typing import Any

from kickflow.errors import (
    OrganisationExists,
    OrganisationNotFound,
    RequestInvalid,
    TokenNotFound,
)
from kickflow.jobs import LOCAL_ORG, IssuedToken, Principal, Role, TokenInfo
from kickflow.jobs.accounts import (
    LAST_USED_RESOLUTION_S,
    TOKEN_PREFIX,
    check_label,
    hash_token,
    parse_role,
)
from tests.fakes.base import FakeStoreBase
from tests.fakes.tables import Org, Token


class FakeAccounts(FakeStoreBase):
    """Organisations and tokens in memory (part of :class:`~tests.fakes.FakeJobStore`)."""

    # --- organisations ----------------------------------------------------------------------

    def _org_by_name(self, name: str) -> str | None:
        return next((o.id for o in self._t.orgs.values() if o.name == name), None)

    def _find_org(self, name_or_id: str) -> str | None:
        if name_or_id in self._t.orgs:
            return name_or_id
        return self._org_by_name(name_or_id)

    def _require_org(self, name_or_id: str) -> str:
        found = self._find_org(name_or_id)
        if found is None:
            raise OrganisationNotFound(
                f"no organisation {name_or_id!r}: create it with `kickflow admin create-org`"
            )
        return found

    def _create_org(self, name: str, max_running: int | None, now: float) -> str:
        name = check_label("organisation name", name)
        if max_running is not None and max_running < 0:
            raise RequestInvalid(f"max_running must be 0 or more, not {max_running}")
        if self._find_org(name) is not None:
            raise OrganisationExists(f"organisation {name!r} already exists")
        org = Org(str(uuid.uuid4()), name, max_running, now)
        self._t.orgs[org.id] = org
        return org.id

    def ensure_org(self, name: str = LOCAL_ORG) -> str:
        with self._tx("ensure_org", name) as now:
            return self._org_by_name(name) or self._create_org(name, None, now)

    def org_id_by_name(self, name: str) -> str | None:
        with self._tx("org_id_by_name", name):
            return self._org_by_name(name)

    def create_org(self, name: str, max_running: int | None = None) -> str:
        with self._tx("create_org", name, max_running) as now:
            return self._create_org(name, max_running, now)

    def find_org(self, name_or_id: str) -> str | None:
        with self._tx("find_org", name_or_id):
            return self._find_org(name_or_id)

    def require_org(self, name_or_id: str) -> str:
        with self._tx("require_org", name_or_id):
            return self._require_org(name_or_id)

    def set_org_cap(self, org_id: str, max_running: int | None) -> None:
        with self._tx("set_org_cap", org_id, max_running):
            org = self._t.orgs.get(org_id)
            if org is not None:
                self._t.orgs[org_id] = dataclasses.replace(org, max_running=max_running)

    # --- tokens -----------------------------------------------------------------------------

    def create_token(self, org_id: str, role: Role, name: str | None = None) -> IssuedToken:
        with self._tx("create_token", org_id, role, name) as now:
            role = parse_role(role)
            label = None if name is None else check_label("token name", name)
            org = self._require_org(org_id)
            secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
            info = TokenInfo(str(uuid.uuid4()), org, label, role, now, None, None)
            self._t.tokens[info.id] = Token(info, hash_token(secret))
            return IssuedToken(info.id, org, role, secret)

    def revoke_token(self, token_id_or_secret: str) -> str:
        with self._tx("revoke_token", token_id_or_secret) as now:
            key = token_id_or_secret.strip()
            digest = hash_token(key)
            token = next(
                (t for t in self._t.tokens.values() if key == t.info.id or digest == t.sha256),
                None,
            )
            if token is None:
                raise TokenNotFound(f"no API token {key[:12]}…")
            if token.info.revoked_at is None:
                self._replace_info(token, revoked_at=now)
            return token.info.id

    def authenticate(self, secret: str) -> Principal | None:
        with self._tx("authenticate", secret) as now:
            digest = hash_token(secret)
            found = (t.info for t in self._t.tokens.values() if t.sha256 == digest)
            info = next(found, None)
            if info is None or info.revoked:
                return None
            age = None if info.last_used_at is None else now - info.last_used_at
            return Principal(info.org_id, info.role, info.id, age)

    def mark_token_used(self, token_id: str) -> bool:
        with self._tx("mark_token_used", token_id) as now:
            token = self._t.tokens.get(token_id)
            if token is None:
                return False
            last = token.info.last_used_at
            if last is not None and last >= now - LAST_USED_RESOLUTION_S:
                return False
            self._replace_info(token, last_used_at=now)
            return True

    def list_tokens(self, org_id: str) -> list[TokenInfo]:
        with self._tx("list_tokens", org_id):
            mine = [t.info for t in self._t.tokens.values() if t.info.org_id == org_id]
            return sorted(mine, key=lambda i: (i.created_at, i.id))

    def org_has_tokens(self, org_id: str) -> bool:
        with self._tx("org_has_tokens", org_id):
            return any(t.info.org_id == org_id for t in self._t.tokens.values())

    def _replace_info(self, token: Token, **values: Any) -> None:
        info = dataclasses.replace(token.info, **values)
        self._t.tokens[info.id] = Token(info, token.sha256)
