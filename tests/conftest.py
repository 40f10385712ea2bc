"""Shared fixtures are plugins, one module per area, so each area owns its own file."""

pytest_plugins = [
    "tests.fixtures_media",
    "tests.fixtures_db",
    "tests.fixtures_server",
    "tests.fixtures_worker",
    "tests.fixtures_s3",
]
