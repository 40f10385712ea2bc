"""``kickflow admin``: organisations, API tokens and dashboard users, on the configured
database."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from kickflow.errors import RequestInvalid

if TYPE_CHECKING:  # the store and its models are imported by the commands that use them
    from kickflow.jobs import JobStore, Membership, Role, TokenInfo, User

admin_app = typer.Typer(help="Organisations, API tokens and dashboard users.", no_args_is_help=True)

ROLE_HELP = (
    "viewer, member, admin (the organisation's own), operator (runs the service: may act on "
    "every organisation where an action offers it) or worker (for `kickflow worker --server`: "
    "may call the worker API only, nothing else; it belongs to the organisation it was made "
    "in, but a worker claims the jobs of every organisation)."
)


def _store() -> JobStore:
    from kickflow.config import get_settings
    from kickflow.jobs import SqlJobStore

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
    from kickflow.jobs.accounts import ROLES, parse_role

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


# --- dashboard users ----------------------------------------------------------------------------

USER_ROLE_HELP = (
    "viewer (reads), member (submits and controls jobs), admin (manages the organisation: "
    "members, invitations, tokens, profiles) or operator (also acts on every organisation)."
)
ORG_OPTION = typer.Option("--org", envvar="KICKFLOW_ORG", help="Organisation name or id.")


def _user_role(role: str) -> Role:
    from kickflow.jobs.accounts import USER_ROLES
    from kickflow.jobs.people import parse_user_role

    try:
        return parse_user_role(role)
    except RequestInvalid:
        raise RequestInvalid(
            f"--role must be one of {', '.join(USER_ROLES)}, not {role!r}"
        ) from None


def _new_password(from_stdin: bool) -> str:
    """The password, checked: one line of stdin, or typed twice at a hidden prompt."""
    from kickflow.security.passwords import check_new_password

    if from_stdin:
        plain = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        plain = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return check_new_password(plain)


@admin_app.command("create-user")
def create_user_cmd(
    email: Annotated[str, typer.Argument(help="Their email address (they sign in with it).")],
    org: Annotated[str, ORG_OPTION],
    role: Annotated[
        str, typer.Option("--role", envvar="KICKFLOW_USER_ROLE", help=USER_ROLE_HELP)
    ] = "admin",
    name: Annotated[
        str | None, typer.Option("--name", envvar="KICKFLOW_USER_NAME", help="Display name.")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
    ] = False,
) -> None:
    """Create a dashboard user in an organisation (for the first admin; invite the others).
    Prints the user's id."""
    from kickflow.jobs.people import normalise_email
    from kickflow.security.passwords import hash_password

    checked_role, address = _user_role(role), normalise_email(email)  # before any prompt
    plain = _new_password(password_stdin)
    store = _store()
    try:
        org_id = store.require_org(org)
        user = store.create_user(address, hash_password(plain), name)
        member = store.set_membership(user.id, org_id, checked_role)
    finally:
        store.close()
    typer.echo(user.id)
    typer.echo(f"{user.email} is now {member.role} of {member.org_name}", err=True)


@admin_app.command("invite")
def invite_cmd(
    email: Annotated[str, typer.Argument(help="Whom the invitation is for (shown on the page).")],
    org: Annotated[str, ORG_OPTION],
    role: Annotated[
        str, typer.Option("--role", envvar="KICKFLOW_USER_ROLE", help=USER_ROLE_HELP)
    ] = "member",
    days: Annotated[
        float | None,
        typer.Option(
            "--days",
            min=0.01,
            envvar="KICKFLOW_INVITATION_DAYS",
            help="The link expires after this many days (default 7).",
        ),
    ] = None,
) -> None:
    """Invite someone into an organisation: prints a one-time link (KICKFLOW_PUBLIC_URL)."""
    from kickflow.config import get_settings
    from kickflow.jobs.people import normalise_email

    checked_role, address = _user_role(role), normalise_email(email)
    settings = get_settings()
    lifetime = (days or settings.invitation_days) * 86400.0
    store = _store()
    try:
        issued = store.create_invitation(
            store.require_org(org), address, checked_role, None, lifetime
        )
    finally:
        store.close()
    invitation = issued.invitation
    typer.echo(invitation_url(settings.resolved_public_url(), issued.secret))
    until = _when(invitation.expires_at)
    typer.echo(
        f"one-time link for {invitation.email} ({invitation.role} of {invitation.org_name}), "
        f"valid until {until}; it is not shown again",
        err=True,
    )


def invitation_url(base: str, secret: str) -> str:
    """The link that opens an invitation (the dashboard's ``/invite/{secret}`` page)."""
    return f"{base.rstrip('/')}/invite/{secret}"


@admin_app.command("list-users")
def list_users_cmd(org: Annotated[str, ORG_OPTION]) -> None:
    """List an organisation's members (email, role, state, name)."""
    store = _store()
    try:
        members = store.org_members(store.require_org(org))
    finally:
        store.close()
    for user, member in members:
        typer.echo(_user_line(user, member))


def _user_line(user: User, member: Membership) -> str:
    state = "disabled" if user.disabled else f"since {_when(member.created_at)}"
    return f"{user.email}  {member.role:<8}  {state}  {user.name or ''}".rstrip()


# --- secrets at rest ----------------------------------------------------------------------------


@admin_app.command("rotate-secrets")
def rotate_secrets_cmd() -> None:
    """Re-encrypt stored secrets (Google connections' tokens, webhook signing secrets) with
    the first key of KICKFLOW_SECRET_KEY, after putting a new key first. Prints counts, never a
    secret; fails when some cannot be decrypted with any key (keep the old key in the list
    until it passes)."""
    from kickflow.config import get_settings
    from kickflow.errors import SecretUnreadable
    from kickflow.integrations.google.tokens import GoogleTokens
    from kickflow.integrations.webhooks.secrets import rotate_webhook_secrets
    from kickflow.security.secrets import SecretBox

    settings = get_settings()
    box = SecretBox.from_settings(settings)
    unreadable: list[str] = []
    store = _store()
    try:
        google = GoogleTokens(store, settings, box=box).rotation()
        typer.echo(
            f"Google connections: {google.rotated} re-encrypted, {google.current} already "
            f"current, {google.unreadable} unreadable"
        )
        if google.unreadable:
            unreadable.append(f"{google.unreadable} Google connection(s)")
        try:
            typer.echo(f"Webhook secrets: {rotate_webhook_secrets(store, box)} re-encrypted")
        except SecretUnreadable:
            typer.echo("Webhook secrets: stopped at one that no key decrypts")
            unreadable.append("a webhook signing secret")
    finally:
        store.close()
    if unreadable:
        raise SecretUnreadable(
            f"{' and '.join(unreadable)} cannot be decrypted with any key in "
            "KICKFLOW_SECRET_KEY: put the key they were written with back in the list"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
