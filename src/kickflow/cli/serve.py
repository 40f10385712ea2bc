"""``kickflow serve``: API + dashboard + N embedded worker slots + reaper, in one command."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kickflow.cli.admin import invitation_url
from kickflow.cli.defaults import LOCAL_ORG
from kickflow.errors import KickflowError

if TYPE_CHECKING:  # the service's modules are imported when it starts, not for --help
    from fastapi import FastAPI

    from kickflow.api.background import ReaperLoop
    from kickflow.api.slots import WorkerSlots
    from kickflow.api.tokens import IssuedToken
    from kickflow.config import Settings
    from kickflow.jobs import JobStore, SqlJobStore

# Open event streams never end on their own; shutdown waits this long for them.
GRACEFUL_SECONDS = 3
# The first run's sign-in link: an invitation into the local organisation as its admin. The
# invitation page lets whoever opens it choose their own address and password.
FIRST_ADMIN_EMAIL = "admin@localhost"
FIRST_ADMIN_LINK_S = 24 * 3600.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def log_path(settings: Settings) -> Path:
    """The service log (the runbook greps it for ``[QCWorker]`` lines)."""
    return settings.data_dir.resolve() / "log" / "kickflow.log"


def configure_logging(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr), logging.FileHandler(path)]
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, handlers=handlers, force=True)
    # One line says migrations are applied; Alembic's own INFO lines repeat every docstring.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def open_store(settings: Settings) -> JobStore:
    """The job store; an empty database is migrated on first start."""
    from kickflow.jobs import SqlJobStore

    store = SqlJobStore(settings=settings, check_migrated=False)
    if store.revision() is None:
        typer.echo(f"kickflow: new database at {_shown(store)}: applying migrations", err=True)
        store.migrate()
    store.close()
    return SqlJobStore(settings=settings)


def _shown(store: SqlJobStore) -> str:
    return store.describe()


def first_run_token(store: JobStore) -> IssuedToken | None:
    """An admin token for the local organisation, only when it has never had a token."""
    org_id = store.ensure_org(LOCAL_ORG)
    if store.org_has_tokens(org_id):
        return None
    return store.create_token(org_id, "admin", name="first run of kickflow serve")


def first_run_invitation(store: JobStore) -> str | None:
    """The secret of a fresh sign-in link for the local organisation's first admin, only while
    it has no members; an earlier start's link, if still unused, stops working (one link
    valid at a time)."""
    org_id = store.ensure_org(LOCAL_ORG)
    if store.org_members(org_id):
        return None
    for earlier in store.list_invitations(org_id):
        mine = earlier.invited_by is None and earlier.email == FIRST_ADMIN_EMAIL
        if mine and earlier.state == "pending":
            store.revoke_invitation(org_id, earlier.id)
    link = store.create_invitation(org_id, FIRST_ADMIN_EMAIL, "admin", None, FIRST_ADMIN_LINK_S)
    return link.secret


def banner(
    url: str, token: IssuedToken | None, workers: int, sign_in_link: str | None = None
) -> str:
    """What ``kickflow serve`` prints on stdout (never logged): each secret at most once."""
    lines = [f"KickFlow QC is running at {url}  (API docs: {url}/docs)"]
    if sign_in_link:
        lines.append(f"Open {sign_in_link} to create the local admin account")
    lines.append(f"worker slots: {workers}" + ("  (API only)" if workers == 0 else ""))
    if token is None:
        lines.append(
            "API token: printed on the first run only; make another with "
            "`kickflow admin create-token --org local --role admin`"
        )
    else:
        lines.append(f"Admin token (local organisation, shown once): {token.secret}")
        lines.append("Keep it: export KICKFLOW_TOKEN=<the token above>")
    lines.append(f'Try: curl -H "Authorization: Bearer $KICKFLOW_TOKEN" {url}/api/qc/jobs')
    return "\n".join(lines)


def serve(
    host: Annotated[str, typer.Option(envvar="KICKFLOW_HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="KICKFLOW_PORT", help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            envvar="KICKFLOW_SERVE_WORKERS",
            help="Embedded worker slots (0 = API only; run `kickflow worker` elsewhere).",
        ),
    ] = 2,
) -> None:
    """Run the service: API, dashboard, worker slots and the reaper."""
    from kickflow.api import create_app
    from kickflow.api.background import ReaperLoop
    from kickflow.api.slots import WorkerSlots, embedded_worker_token, loopback_url
    from kickflow.config import get_settings, local_url
    from kickflow.jobs.sources import check_data_dir_outside_roots

    settings = get_settings()
    check_data_dir_outside_roots(settings)  # before anything is created or started
    configure_logging(log_path(settings))
    store = open_store(settings)
    token = first_run_token(store)
    invitation = first_run_invitation(store)
    slots = None
    if workers:
        # The slots are clients of this service (loopback): only this process writes the
        # database, so a suspended slot cannot hold a lock the service waits for.
        slot_token = embedded_worker_token(store, store.ensure_org(LOCAL_ORG))
        slots = WorkerSlots(
            workers, settings, store, log_path(settings),
            server_url=loopback_url(host, port), token=slot_token.secret,
        )  # fmt: skip
    reaper = ReaperLoop(store, settings.reaper_interval_seconds)
    stop_extra = (lambda: store.revoke_token(slot_token.id)) if workers else None
    app = create_app(
        settings, store=store, workers=slots, reaper=reaper,
        background=_starter(reaper, slots, stop_extra),
    )  # fmt: skip
    url = local_url(host, port)
    base = settings.resolved_public_url() if settings.public_url else url
    link = None if invitation is None else invitation_url(base, invitation)
    typer.echo(banner(url, token, workers, link))
    sys.stdout.flush()
    _run(app, host, port)


def _starter(
    reaper: ReaperLoop, slots: WorkerSlots | None, after_stop: Callable[[], object] | None = None
) -> Callable[[], Callable[[], None]]:
    """What the app starts with its lifespan: the reaper loop, then the worker slots
    (``after_stop`` runs once both have stopped: the slots' token is revoked)."""

    def start() -> Callable[[], None]:
        reaper.start()
        if slots:
            slots.start()

        def stop() -> None:
            if slots:
                slots.stop()
            reaper.stop()
            if after_stop:
                try:
                    after_stop()
                except KickflowError as exc:  # the next start on this host revokes it
                    logging.getLogger("kickflow.slots").warning(
                        "could not revoke the worker slots' token: %s", exc.message
                    )

        return stop

    return start


def _run(app: FastAPI, host: str, port: int) -> None:
    import uvicorn

    from kickflow.api.connections import guarded_protocol
    from kickflow.config import get_settings

    # uvicorn re-raises the stop signal after its graceful shutdown; with these handlers in
    # place that ends the process normally, so a requested stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        http=guarded_protocol(get_settings()),  # header deadline, per-client connection cap
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
