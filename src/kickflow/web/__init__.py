"""The dashboard (a placeholder page for now), served at ``/``."""

from __future__ import annotations

from importlib import resources


def index_html() -> str:
    """The dashboard page."""
    return resources.files("kickflow.web").joinpath("templates/index.html").read_text("utf-8")
