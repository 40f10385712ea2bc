"""``kickflow worker``: run QC jobs, either as a client of the service (``--server URL --token
T``: no database credentials on the worker machine) or straight on a PostgreSQL database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kickflow.errors import UnsafeConfiguration

if TYPE_CHECKING:
    from kickflow.config import Settings
    from kickflow.jobs import WorkerPort
    from kickflow.worker.pipeline import JobFiles

SQLITE_REFUSED = (
    "a direct-database worker cannot share the embedded SQLite database (a suspended worker "
    "would block the service): run it as a client of the service with `kickflow worker "
    "--server http://HOST:PORT --token T` (a token from `kickflow admin create-token --org "
    "local --role worker`), or use PostgreSQL"
)


def _direct_store(settings: Settings) -> WorkerPort:
    from kickflow.jobs import SqlJobStore

    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        raise UnsafeConfiguration(SQLITE_REFUSED)
    return SqlJobStore(settings=settings)


def open_worker_store(settings: Settings) -> tuple[WorkerPort, JobFiles | None]:
    """The store a worker uses, and where it gets inputs (None: this machine's sources)."""
    if settings.server_url:
        from kickflow.worker.remote import HttpWorkerStore

        remote = HttpWorkerStore(settings.server_url, settings.worker_token, settings)
        return remote, remote
    return _direct_store(settings), None


def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            help="Jobs run at once.",
            envvar="KICKFLOW_WORKER_CONCURRENCY",
        ),
    ] = 1,
    server: Annotated[
        str,
        typer.Option(
            "--server",
            envvar="KICKFLOW_SERVER_URL",
            help="The service's URL: claim and report through it (no database access needed).",
        ),
    ] = "",
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="KICKFLOW_WORKER_TOKEN",
            help="A token with the worker role (with --server).",
            show_default=False,
        ),
    ] = "",
) -> None:
    """Claim and run QC jobs until SIGTERM/SIGINT (graceful: running jobs finish or go back)."""
    from kickflow.config import get_settings
    from kickflow.jobs.sources import check_data_dir_outside_roots
    from kickflow.worker import Worker, logs

    updates = {"server_url": server or "", "worker_token": token or ""}
    settings = get_settings().model_copy(update={k: v for k, v in updates.items() if v})
    check_data_dir_outside_roots(settings)
    logs.configure()
    store, inputs = open_worker_store(settings)
    try:
        code = Worker(store, settings, concurrency=concurrency, inputs=inputs).run()
    finally:
        store.close()
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(worker)
