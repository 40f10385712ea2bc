"""``kickflow db upgrade`` / ``kickflow db current``: the job database's migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from kickflow.jobs import SqlJobStore

db_app = typer.Typer(help="The job database (KICKFLOW_DATABASE_URL).", no_args_is_help=True)


def _store() -> SqlJobStore:
    from kickflow.config import get_settings
    from kickflow.jobs import SqlJobStore

    return SqlJobStore(settings=get_settings(), check_migrated=False)


@db_app.command()
def upgrade() -> None:
    """Apply every pending migration (safe to run again)."""
    store = _store()
    before = store.revision()
    store.migrate()
    after = store.revision()
    where = store.describe()
    if before == after:
        typer.echo(f"{where}: already at {after}")
    else:
        typer.echo(f"{where}: migrated {before or 'empty'} -> {after}")
    store.close()


@db_app.command()
def current() -> None:
    """Print the database's migration and the one this version needs."""
    store = _store()
    typer.echo(f"current {store.revision() or 'none'}, needed {store.needed_revision()}")
    store.close()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
