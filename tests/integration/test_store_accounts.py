"""Organisations and API tokens through the job store, the ``worker`` role's migration and the
``kickflow admin`` commands, on real SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
import typer
from alembic import command
from typer.testing import CliRunner

from kickflow.cli import admin
from kickflow.cli import errors as cli_errors
from kickflow.config import Settings, get_settings
from kickflow.errors import (
    DatabaseError,
    OrganisationExists,
    OrganisationNotFound,
    RequestInvalid,
    TokenNotFound,
)
from kickflow.jobs import SqlJobStore
from kickflow.jobs.accounts import TOKEN_PREFIX, hash_token
from kickflow.jobs.db import write_tx
from kickflow.jobs.migrate import alembic_config, upgrade
from kickflow.jobs.schema import api_tokens

# --- organisations ------------------------------------------------------------------------


def test_create_org_and_find_it_by_name_or_id(store: SqlJobStore) -> None:
    org = store.create_org("  Studio B  ", max_running=2)
    assert store.find_org("Studio B") == org == store.find_org(org)
    assert store.require_org(org) == org
    assert store.org_id_by_name("Studio B") == org
    assert store.find_org("nobody") is None
    with pytest.raises(OrganisationNotFound, match="kickflow admin create-org"):
        store.require_org("nobody")


def test_one_set_of_name_rules_for_create_and_ensure(store: SqlJobStore) -> None:
    org = store.create_org("dubbing")
    with pytest.raises(OrganisationExists, match="already exists"):
        store.create_org("dubbing")
    with pytest.raises(OrganisationExists):
        store.create_org(" dubbing ")  # the same name once stripped
    with pytest.raises(OrganisationExists):
        store.create_org(org)  # another organisation's id would make find_org ambiguous
    for bad in ("", "  ", "x" * 201, "bad\x1bname"):
        with pytest.raises(RequestInvalid):
            store.create_org(bad)
        with pytest.raises(RequestInvalid):
            store.ensure_org(bad)
    with pytest.raises(RequestInvalid, match="max_running"):
        store.create_org("capped", max_running=-1)
    assert store.ensure_org("dubbing") == org
    assert store.ensure_org("subtitles") == store.ensure_org("subtitles")


def test_concurrent_creators_of_one_name_get_one_org_and_organisation_exists(
    store: SqlJobStore,
) -> None:
    """The unique index decides a race the existence check cannot see (PostgreSQL: both
    check, both insert); every loser hears why, not "database error"."""
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            outcomes.append(store.create_org("race"))
        except OrganisationExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == sorted([store.find_org("race"), "exists", "exists", "exists"])


# --- tokens -------------------------------------------------------------------------------


def test_a_token_authenticates_until_revoked(store: SqlJobStore) -> None:
    org = store.create_org("tokens")
    issued = store.create_token(org, "member", name="ci")
    assert issued.secret.startswith(TOKEN_PREFIX) and issued.role == "member"
    who = store.authenticate(issued.secret)
    assert who is not None
    assert (who.org_id, who.role, who.token_id, who.last_used_age) == (
        org,
        "member",
        issued.id,
        None,
    )
    assert store.authenticate(issued.secret + "x") is None
    assert store.revoke_token(issued.secret) == issued.id  # by the secret itself
    assert store.authenticate(issued.secret) is None
    assert store.revoke_token(issued.id) == issued.id  # again, by id: still revoked
    with pytest.raises(TokenNotFound):
        store.revoke_token("kf_nothing")


def test_tokens_are_stored_hashed_and_listed_without_secrets(store: SqlJobStore) -> None:
    org = store.create_org("listed")
    other = store.create_org("other")
    first = store.create_token(org, "viewer")
    second = store.create_token("listed", "worker", name="nas-1")  # by name, too
    store.create_token(other, "admin")
    store.revoke_token(first.id)
    listed = store.list_tokens(org)
    # Both tokens may carry the same created_at (the database clock's resolution): the order
    # between them is then the ids', so compare as sets.
    assert len(listed) == 2
    assert {(t.id, t.role, t.name, t.revoked) for t in listed} == {
        (first.id, "viewer", None, True),
        (second.id, "worker", "nas-1", False),
    }
    assert all(first.secret not in repr(t) and second.secret not in repr(t) for t in listed)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(api_tokens.c.token_sha256)).scalars().all()
    assert hash_token(second.secret) in stored and second.secret not in stored


def test_token_creation_refuses_unknown_orgs_roles_and_bad_names(store: SqlJobStore) -> None:
    org = store.create_org("strict")
    with pytest.raises(OrganisationNotFound):
        store.create_token("missing", "member")
    with pytest.raises(RequestInvalid, match="role must be one of"):
        store.create_token(org, "root")  # type: ignore[arg-type]
    with pytest.raises(RequestInvalid, match="control"):
        store.create_token(org, "member", name="a\nb")
    assert store.list_tokens(org) == []


def test_org_has_tokens_counts_revoked_ones(store: SqlJobStore) -> None:
    org = store.create_org("first-run")
    assert not store.org_has_tokens(org)
    token = store.create_token(org, "admin")
    assert store.org_has_tokens(org)
    store.revoke_token(token.id)
    assert store.org_has_tokens(org)  # revoking every token must not re-open the first run


def test_mark_token_used_writes_once_a_minute(store: SqlJobStore) -> None:
    org = store.create_org("marks")
    token = store.create_token(org, "viewer")
    assert store.mark_token_used(token.id)
    assert not store.mark_token_used(token.id)
    who = store.authenticate(token.secret)
    assert who is not None and who.last_used_age is not None and who.last_used_age < 60
    [info] = store.list_tokens(org)
    assert info.last_used_at is not None


def test_a_worker_token_is_a_principal_with_the_worker_role(store: SqlJobStore) -> None:
    org = store.create_org("workers")
    who = store.authenticate(store.create_token(org, "worker").secret)
    assert who is not None and who.is_worker and who.org_id == org
    assert not who.may("viewer")


# --- the worker role's migration ----------------------------------------------------------


def _insert_token(conn: sa.Connection, org: str, role: str) -> None:
    conn.execute(
        sa.insert(api_tokens).values(
            id=f"t-{role}", org_id=org, role=role, token_sha256=hash_token(role), created_at=0
        )
    )


def test_migration_0005_allows_worker_tokens_and_downgrade_deletes_them(
    store: SqlJobStore,
) -> None:
    org = store.create_org("migrated")
    worker = store.create_token(org, "worker")
    member = store.create_token(org, "member")
    cfg = alembic_config()
    try:
        with write_tx(store.engine) as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
        assert store.revision() == "0004"
        assert store.authenticate(worker.secret) is None  # deleted, not turned into a user
        assert store.authenticate(member.secret) is not None
        with pytest.raises(DatabaseError), write_tx(store.engine) as conn:
            _insert_token(conn, org, "worker")  # the old check refuses the role
    finally:
        upgrade(store.engine)
    assert store.revision() == store.needed_revision()
    with write_tx(store.engine) as conn:
        _insert_token(conn, org, "worker")
    with pytest.raises(DatabaseError), write_tx(store.engine) as conn:
        _insert_token(conn, org, "root")


# --- kickflow admin -----------------------------------------------------------------------


@pytest.fixture
def admin_cli(
    job_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """``kickflow admin …`` in-process on the test database: (exit code, stdout, stderr)."""
    for key in [k for k in os.environ if k.startswith("KICKFLOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KICKFLOW_DATABASE_URL", job_settings.database_url)
    monkeypatch.setenv("KICKFLOW_DATA_DIR", str(job_settings.data_dir))
    get_settings.cache_clear()
    app = typer.Typer(pretty_exceptions_enable=False)
    admin.register(app)

    def run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            with cli_errors.handled(verbose=False):
                result = CliRunner().invoke(app, ["admin", *args], catch_exceptions=False)
                code = result.exit_code
                out = result.stdout
        except SystemExit as exc:
            code, out = int(exc.code or 0), ""
        return code, out, capsys.readouterr().err

    yield run
    get_settings.cache_clear()


def test_admin_creates_a_worker_token_and_lists_it(
    admin_cli: Callable[..., tuple[int, str, str]], store: SqlJobStore
) -> None:
    code, out, _ = admin_cli("create-org", "nas-studio")
    assert code == 0 and store.find_org("nas-studio") == out.strip()
    code, out, _ = admin_cli("create-token", "--org", "nas-studio", "--role", "worker")
    assert code == 0
    who = store.authenticate(out.strip())
    assert who is not None and who.role == "worker"
    code, listed, _ = admin_cli("list-tokens", "--org", "nas-studio")
    assert code == 0 and who.token_id in listed and "worker" in listed
    assert out.strip() not in listed


def test_admin_help_says_what_a_worker_token_may_do(
    admin_cli: Callable[..., tuple[int, str, str]],
) -> None:
    code, out, _ = admin_cli("create-token", "--help")
    text = " ".join(out.split())
    assert code == 0 and "worker API only" in text and "every organisation" in text


def test_admin_refuses_bad_input_in_one_sentence(
    admin_cli: Callable[..., tuple[int, str, str]],
) -> None:
    code, _, err = admin_cli("create-token", "--org", "x", "--role", "root")
    assert code == 2 and "worker" in err and "Traceback" not in err
    code, _, err = admin_cli("create-token", "--org", "missing", "--role", "worker")
    assert code == 2 and "no organisation 'missing'" in err
    admin_cli("create-org", "twice")
    code, _, err = admin_cli("create-org", "twice")
    assert code == 2 and "already exists" in err
    code, _, err = admin_cli("create-org", " ")
    assert code == 2 and "must not be empty" in err
