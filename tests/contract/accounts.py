"""Part of the USER contract (``TestUserContract`` inherits it): organisations and API tokens.

A store is only looked at through its methods here; that the database keeps a hash and never
the secret is the SQL store's own test (``tests/integration/test_store_accounts.py``).
"""

from __future__ import annotations

import pytest

from kickflow.errors import (
    OrganisationExists,
    OrganisationNotFound,
    RequestInvalid,
    TokenNotFound,
)
from kickflow.jobs.accounts import LAST_USED_RESOLUTION_S, TOKEN_PREFIX, Principal
from tests.contract.harness import ContractStore


class AccountsContract:
    # --- organisations ----------------------------------------------------------------------

    def test_an_organisation_is_found_by_name_or_id(self, store: ContractStore) -> None:
        jobs = store.jobs
        org = jobs.create_org("  Studio B  ", max_running=2)
        assert jobs.find_org("Studio B") == org == jobs.find_org(org)
        assert jobs.require_org(org) == org == jobs.require_org("Studio B")
        assert jobs.org_id_by_name("Studio B") == org
        assert jobs.find_org("nobody") is None
        with pytest.raises(OrganisationNotFound, match="kickflow admin create-org"):
            jobs.require_org("nobody")

    def test_duplicate_and_bad_organisation_names_are_refused(self, store: ContractStore) -> None:
        jobs = store.jobs
        org = jobs.create_org("dubbing")
        for taken in ("dubbing", " dubbing ", org):  # another's id would make find_org ambiguous
            with pytest.raises(OrganisationExists, match="already exists"):
                jobs.create_org(taken)
        for bad in ("", "  ", "x" * 201, "bad\x1bname"):
            with pytest.raises(RequestInvalid):
                jobs.create_org(bad)
            with pytest.raises(RequestInvalid):
                jobs.ensure_org(bad)
        with pytest.raises(RequestInvalid, match="max_running"):
            jobs.create_org("capped", max_running=-1)
        assert jobs.ensure_org("dubbing") == org
        assert jobs.find_org("capped") is None, "a refused organisation leaves nothing behind"

    # --- tokens -----------------------------------------------------------------------------

    def test_a_token_authenticates_until_revoked(self, store: ContractStore) -> None:
        jobs = store.jobs
        issued = jobs.create_token(store.org, "member", name="ci")
        assert issued.secret.startswith(TOKEN_PREFIX) and len(issued.secret) > 40
        assert (issued.org_id, issued.role) == (store.org, "member")
        assert jobs.authenticate(issued.secret) == Principal(store.org, "member", issued.id, None)
        assert jobs.authenticate(issued.secret + "x") is None
        assert jobs.authenticate("") is None
        assert jobs.revoke_token(f" {issued.secret} ") == issued.id, "by the secret itself"
        assert jobs.authenticate(issued.secret) is None
        [revoked] = jobs.list_tokens(store.org)
        assert revoked.revoked and revoked.revoked_at is not None
        assert jobs.revoke_token(issued.id) == issued.id, "by id, again: still revoked"
        assert jobs.list_tokens(store.org)[0].revoked_at == revoked.revoked_at, "first time kept"
        with pytest.raises(TokenNotFound):
            jobs.revoke_token("kf_nothing")

    def test_tokens_are_listed_oldest_first_and_never_with_a_secret(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        org = jobs.create_org("listed")
        other = jobs.create_org("other")
        first = jobs.create_token(org, "viewer")
        store.clock_moves_past(jobs.now())
        second = jobs.create_token("listed", "worker", name="nas-1")  # by name, too
        jobs.create_token(other, "admin")
        jobs.revoke_token(first.id)
        listed = jobs.list_tokens(org)
        assert [(t.id, t.org_id, t.role, t.name, t.revoked) for t in listed] == [
            (first.id, org, "viewer", None, True),
            (second.id, org, "worker", "nas-1", False),
        ]
        assert listed[0].created_at < listed[1].created_at
        assert all(t.last_used_at is None for t in listed)
        assert all(first.secret not in repr(t) and second.secret not in repr(t) for t in listed)
        assert first.secret != second.secret
        assert jobs.list_tokens(jobs.create_org("empty")) == []

    def test_token_creation_refuses_unknown_orgs_roles_and_bad_names(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        with pytest.raises(OrganisationNotFound):
            jobs.create_token("missing", "member")
        with pytest.raises(RequestInvalid, match="role must be one of"):
            jobs.create_token(store.org, "root")  # type: ignore[arg-type]
        with pytest.raises(RequestInvalid, match="control"):
            jobs.create_token(store.org, "member", name="a\nb")
        assert jobs.list_tokens(store.org) == []
        assert not jobs.org_has_tokens(store.org)

    def test_org_has_tokens_counts_revoked_ones(self, store: ContractStore) -> None:
        jobs = store.jobs
        org = jobs.create_org("first-run")
        assert not jobs.org_has_tokens(org)
        token = jobs.create_token(org, "admin")
        assert jobs.org_has_tokens(org)
        jobs.revoke_token(token.id)
        assert jobs.org_has_tokens(org), "revoking every token must not re-open the first run"
        assert not jobs.org_has_tokens(store.org)

    def test_last_used_is_written_once_a_resolution(self, store: ContractStore) -> None:
        jobs = store.jobs
        token = jobs.create_token(store.org, "viewer")
        before = jobs.now()
        assert jobs.mark_token_used(token.id)
        assert not jobs.mark_token_used(token.id), "within the resolution: not written again"
        who = jobs.authenticate(token.secret)
        assert who is not None and who.last_used_age is not None
        assert 0.0 <= who.last_used_age < LAST_USED_RESOLUTION_S
        [info] = jobs.list_tokens(store.org)
        assert info.last_used_at is not None and info.last_used_at >= before
        assert not jobs.mark_token_used("no-such-token")

    def test_a_worker_token_has_the_worker_role_only(self, store: ContractStore) -> None:
        jobs = store.jobs
        org = jobs.create_org("workers")
        who = jobs.authenticate(jobs.create_token(org, "worker").secret)
        assert who is not None and who.is_worker and who.org_id == org
        assert who.may("worker") and not who.may("viewer")
        admin = jobs.authenticate(jobs.create_token(org, "operator").secret)
        assert admin is not None and admin.is_operator and not admin.may("worker")
