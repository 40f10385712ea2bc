"""``kickflow worker [--concurrency N]``: run QC jobs from the configured database."""

from __future__ import annotations

from typing import Annotated

import typer

from kickflow.config import get_settings


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
) -> None:
    """Claim and run QC jobs until SIGTERM/SIGINT (graceful: running jobs finish or go back)."""
    from kickflow.jobs import SqlJobStore
    from kickflow.jobs.sources import check_data_dir_outside_roots
    from kickflow.worker import Worker, logs

    settings = get_settings()
    check_data_dir_outside_roots(settings)
    logs.configure()
    store = SqlJobStore(settings=settings)
    code = Worker(store, settings, concurrency=concurrency).run()
    store.close()
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(worker)
