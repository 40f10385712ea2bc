"""Entry point: builds the typer app from one module per command group."""

from __future__ import annotations

import os
import sys

# Typer's Rich help and tracebacks cost about a third of the start-up (importing Rich's
# markdown and traceback modules); plain help reads the same. An operator may set it back.
os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # after the switch above: typer reads it when imported

from kickflow.cli import errors as cli_errors

app = typer.Typer(
    name="kickflow",
    help="KickFlow QC: check media files against delivery specs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from kickflow.cli import admin, check, serve

    check.register(app)
    admin.register(app)
    serve.register(app)

    from kickflow.cli import db, jobs, worker

    db.register(app)
    jobs.register(app)
    worker.register(app)

    from kickflow.cli import watch

    watch.register(app)


def run() -> None:
    """Console-script entry point: one clear sentence and exit 2 on errors, no traceback."""
    _register()
    verbose = "-v" in sys.argv or "--verbose" in sys.argv
    with cli_errors.handled(verbose=verbose):
        app()
