"""Shared fixtures are plugins, one module per area, so each area owns its own file."""

import os

# Plain help, as the kickflow CLI sets it before importing Typer (cli/main.py): tests that
# build their own Typer app import Typer first, and Typer reads the switch when imported.
os.environ.setdefault("TYPER_USE_RICH", "0")

pytest_plugins = [
    "tests.fixtures_media",
    "tests.fixtures_db",
    "tests.fixtures_server",
    "tests.fixtures_worker",
    "tests.fixtures_s3",
]
