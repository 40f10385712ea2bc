"""``kickflow admin``: organisations and API tokens, on the configured database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from kickflow.config import get_settings
from kickflow.errors import RequestInvalid
from kickflow.jobs import ROLES, JobStore, SqlJobStore, TokenInfo
from kickflow.jobs.accounts import parse_role

admin_app = typer.Typer(help="Organisations and API tokens.", no_args_is_help=True)

ROLE_HELP = (
    "viewer, member, admin (the organisation's own), operator (runs the service: may act on "
    "every organisation where an action offers it) or worker (for `kickflow worker --server`: "
    "may call the worker API only, nothing else; it belongs to the organisation it was made "
    "in, but a worker claims the jobs of every organisation)."
)


def _store() -> JobStore:
    return SqlJobStore(settings=get_settings())


@admin_app.command("create-org")
def create_org_cmd(name: Annotated[str, typer.Argument(help="Organisation name.")]) -> None:
    """Create an organisation; prints its id."""
    store = _store()
    try:
        typer.echo(store.create_org(name))
    finally:
        store.close()


@admin_app.command("create-token")
def create_token_cmd(
    org: Annotated[
        str, typer.Option("--org", envvar="KICKFLOW_ORG", help="Organisation name or id.")
    ],
    role: Annotated[
        str, typer.Option("--role", envvar="KICKFLOW_TOKEN_ROLE", help=ROLE_HELP)
    ] = "member",
    name: Annotated[
        str | None,
        typer.Option("--name", envvar="KICKFLOW_TOKEN_NAME", help="A label for the token."),
    ] = None,
) -> None:
    """Create an API token and print it (once: only its hash is stored)."""
    if role not in ROLES:  # before the database is opened: a typo costs nothing
        raise RequestInvalid(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    checked = parse_role(role)
    store = _store()
    try:
        issued = store.create_token(store.require_org(org), checked, name)
    finally:
        store.close()
    typer.echo(issued.secret)
    typer.echo(f"token id {issued.id} ({issued.role}); it is not shown again", err=True)


@admin_app.command("revoke-token")
def revoke_token_cmd(
    token: Annotated[str, typer.Argument(help="The token id, or the token itself.")],
) -> None:
    """Revoke an API token at once."""
    store = _store()
    try:
        typer.echo(f"revoked {store.revoke_token(token)}")
    finally:
        store.close()


@admin_app.command("list-tokens")
def list_tokens_cmd(
    org: Annotated[
        str, typer.Option("--org", envvar="KICKFLOW_ORG", help="Organisation name or id.")
    ],
) -> None:
    """List an organisation's tokens (id, role, state, name); never a secret."""
    store = _store()
    try:
        tokens = store.list_tokens(store.require_org(org))
    finally:
        store.close()
    for token in tokens:
        typer.echo(_token_line(token))


def _token_line(token: TokenInfo) -> str:
    state = f"revoked {_when(token.revoked_at)}" if token.revoked_at is not None else "active"
    used = f"last used {_when(token.last_used_at)}" if token.last_used_at else "never used"
    return f"{token.id}  {token.role:<8}  {state}, {used}  {token.name or ''}".rstrip()


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


@admin_app.command("pause-queue")
def pause_queue_cmd() -> None:
    """Stop every worker from claiming new jobs (running jobs carry on)."""
    _store().pause_queue()
    typer.echo("queue paused: workers claim nothing until `kickflow admin resume-queue`")


@admin_app.command("resume-queue")
def resume_queue_cmd() -> None:
    """Let workers claim jobs again."""
    _store().resume_queue()
    typer.echo("queue resumed")


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
