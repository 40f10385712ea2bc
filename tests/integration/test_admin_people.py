"""``kickflow admin create-user / invite / list-users`` in-process on real SQLite and
PostgreSQL: the password is prompted (hidden, twice) or read from stdin and only its argon2
hash is stored; bad input is one sentence and exit code 2, with nothing written."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import typer
from typer.testing import CliRunner

from kickflow.cli import admin
from kickflow.cli import errors as cli_errors
from kickflow.config import Settings, get_settings
from kickflow.jobs import SqlJobStore
from kickflow.security.passwords import verify_password

PASSWORD = "correct horse battery"


@dataclass
class Ran:
    code: int
    out: str
    err: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(
    job_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """``kickflow admin …`` on the test database, with optional stdin; extra ``KICKFLOW_*``
    variables come as ``env``."""
    for key in [k for k in os.environ if k.startswith("KICKFLOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KICKFLOW_DATABASE_URL", job_settings.database_url)
    monkeypatch.setenv("KICKFLOW_DATA_DIR", str(job_settings.data_dir))
    app = typer.Typer(pretty_exceptions_enable=False)
    admin.register(app)

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Ran:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        code, out, err = 0, "", ""
        try:
            with cli_errors.handled(verbose=False):
                result = CliRunner().invoke(
                    app, ["admin", *args], input=input, catch_exceptions=False
                )
                code, out, err = result.exit_code, result.stdout, result.stderr
        except SystemExit as exc:  # the one-sentence handler (it prints to the real stderr)
            code = int(exc.code or 0)
        return Ran(code, out, err + capsys.readouterr().err)

    yield run
    get_settings.cache_clear()


def test_create_user_reads_the_password_from_stdin(cli: Cli, store: SqlJobStore) -> None:
    org = store.create_org("studio")
    ran = cli("create-user", " Ann@Example.com", "--org", "studio", "--name", "Ann",
              "--password-stdin", input=PASSWORD + "\n")  # fmt: skip
    assert ran.code == 0, ran.err
    found = store.user_for_sign_in("ann@example.com")
    assert found is not None and found[0].id == ran.out.strip() and found[0].name == "Ann"
    assert verify_password(found[1], PASSWORD) and PASSWORD not in found[1]
    assert [(m.org_id, m.role) for m in store.memberships(found[0].id)] == [(org, "admin")]
    assert "ann@example.com is now admin of studio" in ran.err


def test_create_user_prompts_twice_without_echo(cli: Cli, store: SqlJobStore) -> None:
    store.ensure_org()
    ran = cli("create-user", "bob@example.com", "--org", "local", "--role", "viewer",
              input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert ran.code == 0, ran.err
    assert "Password" in ran.out and "Repeat for confirmation" in ran.out
    assert PASSWORD not in ran.out + ran.err
    found = store.user_for_sign_in("bob@example.com")
    assert found is not None and verify_password(found[1], PASSWORD)
    assert store.memberships(found[0].id)[0].role == "viewer"


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["ann@example.com", "--org", "local"], "short\n", "at least 10 characters"),
        (["ann@example.com", "--org", "local", "--role", "worker"], PASSWORD, "--role must be"),
        (["ann", "--org", "local"], PASSWORD, "must look like name@example.com"),
        (["ann@example.com", "--org", "nowhere"], PASSWORD, "no organisation 'nowhere'"),
        (["ann@example.com", "--org", "local", "--name", "a\x1bb"], PASSWORD, "control"),
    ],
)
def test_create_user_refuses_bad_input_in_one_sentence(
    cli: Cli, store: SqlJobStore, args: list[str], stdin: str, says: str
) -> None:
    store.ensure_org()
    ran = cli("create-user", *args, "--password-stdin", input=stdin)
    assert ran.code == 2 and says in ran.err and "Traceback" not in ran.err, ran.err
    assert len(ran.err.strip().splitlines()) == 1
    assert store.user_for_sign_in("ann@example.com") is None, "nothing written"
    assert store.org_members(store.ensure_org()) == []


def test_create_user_refuses_a_taken_address(cli: Cli, store: SqlJobStore) -> None:
    store.ensure_org()
    first = cli("create-user", "ann@example.com", "--org", "local", "--password-stdin",
                input=PASSWORD)  # fmt: skip
    assert first.code == 0, first.err
    again = cli("create-user", "ANN@example.com", "--org", "local", "--password-stdin",
                input=PASSWORD)  # fmt: skip
    assert again.code == 2 and "already exists" in again.err


def test_invite_prints_a_one_time_link(cli: Cli, store: SqlJobStore) -> None:
    org = store.create_org("studio")
    ran = cli("invite", "new@example.com", "--org", "studio", "--days", "2",
              env={"KICKFLOW_PUBLIC_URL": "https://qc.example.com/"})  # fmt: skip
    assert ran.code == 0, ran.err
    link = ran.out.strip()
    assert link.startswith("https://qc.example.com/invite/")
    found = store.invitation_by_secret(link.rsplit("/", 1)[1])
    assert found is not None and found.state == "pending" and found.org_id == org
    assert (found.email, found.role, found.invited_by) == ("new@example.com", "member", None)
    assert found.expires_at - found.created_at == pytest.approx(2 * 86400)
    assert "not shown again" in ran.err and link.rsplit("/", 1)[1] not in ran.err


def test_invite_defaults_to_the_local_address_and_a_week(cli: Cli, store: SqlJobStore) -> None:
    store.ensure_org()
    ran = cli("invite", "a@example.com", "--org", "local", "--role", "admin",
              env={"KICKFLOW_PORT": "9123"})  # fmt: skip
    assert ran.code == 0, ran.err
    assert ran.out.startswith("http://127.0.0.1:9123/invite/")
    found = store.invitation_by_secret(ran.out.strip().rsplit("/", 1)[1])
    assert found is not None and found.role == "admin"
    assert found.expires_at - found.created_at == pytest.approx(7 * 86400)
    for args, says in [
        (["--role", "worker"], "--role must be"),
        (["--days", "0"], "--days"),
        (["--org", "nowhere"], "no organisation"),
    ]:
        bad = cli("invite", "b@example.com", "--org", "local", *args)
        assert bad.code == 2 and says in bad.err + bad.out, (args, bad)
    assert len(store.list_invitations(store.ensure_org())) == 1


def test_list_users_shows_members_by_address(cli: Cli, store: SqlJobStore) -> None:
    org = store.create_org("studio")
    for email, role in (("zed@example.com", "viewer"), ("amy@example.com", "admin")):
        user = store.create_user(email, "$argon2id$stand-in", name=email[:3].title())
        store.set_membership(user.id, org, role)  # type: ignore[arg-type]
    ran = cli("list-users", "--org", "studio")
    assert ran.code == 0, ran.err
    lines = ran.out.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["amy@example.com", "admin"], ["zed@example.com", "viewer"],
    ]  # fmt: skip
    assert lines[0].endswith("Amy") and "$argon2id" not in ran.out
