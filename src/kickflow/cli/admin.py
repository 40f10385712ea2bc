"""``kickflow admin``: organisations and API tokens, on the configured database."""

from __future__ import annotations

from typing import Annotated

import typer

from kickflow.api.tokens import ROLES, Role, create_org, create_token, require_org, revoke_token
from kickflow.config import get_settings
from kickflow.errors import RequestInvalid
from kickflow.jobs import JobStore, SqlJobStore
from kickflow.jobs.db import write_tx

admin_app = typer.Typer(help="Organisations and API tokens.", no_args_is_help=True)


def _store() -> JobStore:
    settings = get_settings()
    return SqlJobStore(settings=settings)


@admin_app.command("create-org")
def create_org_cmd(name: Annotated[str, typer.Argument(help="Organisation name.")]) -> None:
    """Create an organisation; prints its id."""
    store = _store()
    with write_tx(store.engine) as conn:
        org_id = create_org(conn, name)
    typer.echo(org_id)


@admin_app.command("create-token")
def create_token_cmd(
    org: Annotated[
        str, typer.Option("--org", envvar="KICKFLOW_ORG", help="Organisation name or id.")
    ],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            envvar="KICKFLOW_TOKEN_ROLE",
            help="viewer, member, admin (the organisation's own) or operator (runs the service: "
            "may act on every organisation where an action offers it).",
        ),
    ] = "member",
    name: Annotated[
        str | None,
        typer.Option("--name", envvar="KICKFLOW_TOKEN_NAME", help="A label for the token."),
    ] = None,
) -> None:
    """Create an API token and print it (once: only its hash is stored)."""
    if role not in ROLES:
        raise RequestInvalid(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    store = _store()
    with write_tx(store.engine) as conn:
        issued = create_token(conn, require_org(conn, org), _role(role), name)
    typer.echo(issued.secret)
    typer.echo(f"token id {issued.id} ({issued.role}); it is not shown again", err=True)


def _role(value: str) -> Role:
    for role in ROLES:
        if role == value:
            return role
    raise RequestInvalid(f"unknown role {value!r}")


@admin_app.command("revoke-token")
def revoke_token_cmd(
    token: Annotated[str, typer.Argument(help="The token id, or the token itself.")],
) -> None:
    """Revoke an API token at once."""
    store = _store()
    with write_tx(store.engine) as conn:
        token_id = revoke_token(conn, token)
    typer.echo(f"revoked {token_id}")


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
