"""Part of the USER contract (``TestUserContract`` inherits it): Google connections, one per
(organisation, user) with its encrypted tokens. The store treats the tokens as opaque text; what
matters here is the upsert that keeps the id, the status a failed refresh sets and a reconnect
clears, and that every read and write stays inside one organisation."""

from __future__ import annotations

import threading

import pytest

from kickflow.errors import DatabaseError, RequestInvalid
from kickflow.integrations.google.types import (
    DRIVE_SCOPE,
    ORG_OWNER,
    SHEETS_SCOPE,
    ConnectionSecrets,
    GoogleConnection,
)
from tests.contract.harness import ContractStore

ALICE, BOB = "user-alice", "user-bob"
SECRETS = ConnectionSecrets(refresh_token="enc:refresh-1", access_token="enc:access-1")


def connect(
    store: ContractStore,
    user_id: str = ALICE,
    *,
    org: str | None = None,
    email: str | None = "alice@example.com",
    secrets: ConnectionSecrets = SECRETS,
    expires: float | None = 5000.0,
) -> GoogleConnection:
    return store.jobs.save_google_connection(
        org or store.org,
        user_id,
        email=email,
        scopes=[DRIVE_SCOPE],
        secrets=secrets,
        access_expires_at=expires,
    )


class GoogleConnectionsContract:
    def test_a_saved_connection_is_read_back_by_user_by_id_and_in_the_list(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        saved = jobs.save_google_connection(
            store.org,
            ALICE,
            email="alice@example.com",
            scopes=[DRIVE_SCOPE, SHEETS_SCOPE, DRIVE_SCOPE],
            secrets=SECRETS,
            access_expires_at=5000.0,
        )
        assert saved.org_id == store.org and saved.user_id == ALICE
        assert saved.email == "alice@example.com"
        assert saved.scopes == (DRIVE_SCOPE, SHEETS_SCOPE), "each scope once, in order"
        assert saved.status == "ok" and saved.last_error is None
        assert saved.access_expires_at == 5000.0
        assert saved.created_at == saved.updated_at > 0
        assert jobs.google_connection(store.org, ALICE) == saved
        assert jobs.google_connection_by_id(store.org, saved.id) == saved
        assert jobs.google_connection_secrets(store.org, saved.id) == SECRETS
        assert jobs.list_google_connections(store.org) == [saved]
        assert jobs.google_connection(store.org, BOB) is None

    def test_a_reconnect_keeps_the_id_and_creation_time_and_clears_a_failure(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        first = connect(store)
        jobs.mark_google_connection_failed(store.org, first.id, "invalid_grant")
        renewed = ConnectionSecrets("enc:refresh-2", "enc:access-2")
        again = connect(store, email="alice@work.example", secrets=renewed, expires=9000.0)
        assert again.id == first.id
        assert again.created_at == first.created_at
        assert again.updated_at >= first.updated_at
        assert again.email == "alice@work.example"
        assert again.status == "ok" and again.last_error is None
        assert again.access_expires_at == 9000.0
        assert jobs.google_connection_secrets(store.org, first.id) == renewed
        assert [c.id for c in jobs.list_google_connections(store.org)] == [first.id]

    def test_the_organisation_level_connection_is_its_own_row(self, store: ContractStore) -> None:
        jobs = store.jobs
        mine = connect(store, ALICE)
        org_level = connect(store, ORG_OWNER, email="ops@example.com")
        bob = connect(store, BOB, email=None)
        assert len({mine.id, org_level.id, bob.id}) == 3
        assert jobs.google_connection(store.org, ORG_OWNER) == org_level
        assert jobs.google_connection(store.org, ALICE) == mine
        assert bob.email is None
        listed = jobs.list_google_connections(store.org)
        assert [c.user_id for c in listed] == [ORG_OWNER, ALICE, BOB]

    def test_another_organisation_reads_and_changes_nothing(self, store: ContractStore) -> None:
        jobs = store.jobs
        other = jobs.ensure_org("other")
        mine = connect(store)
        theirs = connect(store, org=other, secrets=ConnectionSecrets("enc:theirs", None))
        assert theirs.id != mine.id, "the same user id in two organisations: two connections"
        assert jobs.google_connection_by_id(other, mine.id) is None
        assert jobs.google_connection_secrets(other, mine.id) is None
        jobs.update_google_access(other, mine.id, "enc:stolen", 1.0)
        jobs.mark_google_connection_failed(other, mine.id, "nope")
        jobs.replace_google_secrets(other, mine.id, ConnectionSecrets("enc:x", "enc:y"))
        assert jobs.delete_google_connection(other, mine.id) is False
        assert jobs.google_connection_by_id(store.org, mine.id) == mine, "unchanged"
        assert jobs.google_connection_secrets(store.org, mine.id) == SECRETS
        assert jobs.list_google_connections(other) == [theirs]
        assert jobs.google_connection(other, ALICE) == theirs
        assert jobs.google_connection_secrets(other, theirs.id) == ConnectionSecrets(
            "enc:theirs", None
        )

    def test_a_refreshed_access_token_changes_only_the_access_token_and_expiry(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        saved = connect(store)
        jobs.update_google_access(store.org, saved.id, "enc:access-2", 8000.5)
        after = jobs.google_connection_by_id(store.org, saved.id)
        assert after is not None
        assert after.access_expires_at == 8000.5
        assert after.updated_at >= saved.updated_at
        assert (after.status, after.email, after.scopes) == ("ok", saved.email, saved.scopes)
        assert jobs.google_connection_secrets(store.org, saved.id) == ConnectionSecrets(
            "enc:refresh-1", "enc:access-2"
        )

    def test_a_failed_refresh_is_kept_with_its_reason_and_listed_as_a_problem(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        other = jobs.ensure_org("other")
        failing = connect(store, ALICE)
        connect(store, BOB)
        elsewhere = connect(store, ALICE, org=other)
        jobs.mark_google_connection_failed(store.org, failing.id, "invalid_grant:\n" + "x" * 900)
        jobs.mark_google_connection_failed(other, elsewhere.id, "Token has been revoked")
        after = jobs.google_connection_by_id(store.org, failing.id)
        assert after is not None and after.status == "refresh_failed"
        assert after.last_error is not None
        assert after.last_error.startswith("invalid_grant: xxx"), "one line"
        assert len(after.last_error) == 500
        assert after.access_expires_at is None
        assert jobs.google_connection_secrets(store.org, failing.id) == ConnectionSecrets(
            "enc:refresh-1", None
        ), "the access token is dropped, the refresh token kept for the revoke"
        problems = jobs.google_connection_problems()
        assert {(c.org_id, c.id) for c in problems} == {
            (store.org, failing.id),
            (other, elsewhere.id),
        }
        assert all(c.status == "refresh_failed" for c in problems)

    def test_a_disconnect_says_whether_there_was_a_connection(self, store: ContractStore) -> None:
        jobs = store.jobs
        saved = connect(store)
        kept = connect(store, BOB)
        assert jobs.delete_google_connection(store.org, saved.id) is True
        assert jobs.delete_google_connection(store.org, saved.id) is False
        assert jobs.google_connection(store.org, ALICE) is None
        assert jobs.google_connection_secrets(store.org, saved.id) is None
        assert jobs.list_google_connections(store.org) == [kept]
        again = connect(store)
        assert again.id != saved.id, "connecting after a disconnect is a new connection"

    def test_rotation_sees_every_connection_and_replaces_both_tokens(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        other = jobs.ensure_org("other")
        a, b = connect(store, ALICE), connect(store, BOB)
        c = connect(store, ALICE, org=other)
        assert sorted(jobs.google_connection_keys()) == sorted(
            [(store.org, a.id), (store.org, b.id), (other, c.id)]
        )
        rotated = ConnectionSecrets("enc:refresh-new", "enc:access-new")
        jobs.replace_google_secrets(store.org, a.id, rotated)
        jobs.replace_google_secrets(other, c.id, ConnectionSecrets("enc:refresh-c", None))
        assert jobs.google_connection_secrets(store.org, a.id) == rotated
        assert jobs.google_connection_secrets(store.org, b.id) == SECRETS
        assert jobs.google_connection_secrets(other, c.id) == ConnectionSecrets(
            "enc:refresh-c", None
        )
        assert jobs.google_connection_by_id(store.org, a.id) == a, "nothing visible changes"

    def test_an_unknown_organisation_or_an_oversized_identity_is_refused(
        self, store: ContractStore
    ) -> None:
        with pytest.raises(DatabaseError):
            connect(store, org="no-such-org")
        with pytest.raises(RequestInvalid, match="user id"):
            connect(store, "u" * 37)
        with pytest.raises(RequestInvalid, match="email"):
            connect(store, email="a" * 250 + "@x.io")
        assert connect(store, "u" * 36).user_id == "u" * 36
        assert store.jobs.google_connection_problems() == []

    def test_connects_at_once_make_one_connection(self, store: ContractStore) -> None:
        errors: list[BaseException] = []

        def save(n: int) -> None:
            try:
                connect(store, secrets=ConnectionSecrets(f"enc:refresh-{n}", None))
            except BaseException as exc:  # reported below, in the test thread
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        [only] = store.jobs.list_google_connections(store.org)
        secrets = store.jobs.google_connection_secrets(store.org, only.id)
        assert secrets is not None and secrets.refresh_token.startswith("enc:refresh-")
