"""The runbooks (``docs/runbooks/*.md``) as pages of the dashboard, and the alert each one
answers, so the Operations page can link an alert to what on-call does about it.

``docs/runbooks/`` stays the one copy (the runbook tests run its commands). A wheel carries it
as ``kickflow/runbooks/`` (copied at build time by ``setup.py``); a source checkout (an
editable install) reads the repository's directory. Markdown is rendered with raw HTML off, so
a runbook can never put markup of its own on the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
# The first row of a runbook's header table: "| Alert | `QCJobStuck` (…), severity **critical** |"
ALERT_ROW = re.compile(r"^\|\s*Alert\s*\|\s*`(?P<alert>\w+)`.*?severity\s+\**(?P<sev>\w+)", re.M)
LOCAL_LINK = re.compile(r"(?P<name>[a-z0-9-]+)\.md(?P<anchor>#[\w-]*)?")
URL_PREFIX = "/ops/runbooks/"


@dataclass(frozen=True)
class Alert:
    """A Prometheus alert (``deploy/prometheus/alerts.yml``) and the runbook that answers it."""

    name: str
    severity: str
    runbook: str  # the runbook's name: its file name without ``.md``
    title: str

    @property
    def url(self) -> str:
        return URL_PREFIX + self.runbook


def directory() -> Traversable | None:
    """Where the runbooks are: packaged with the wheel, else the source checkout's docs/."""
    packaged = resources.files("kickflow").joinpath("runbooks")
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "docs" / "runbooks"
    return checkout if checkout.is_dir() else None


@cache
def _sources() -> dict[str, str]:
    found = directory()
    if found is None:
        return {}
    files = (f for f in found.iterdir() if f.name.endswith(".md") and f.name != "README.md")
    return {f.name.removesuffix(".md"): f.read_text("utf-8") for f in sorted(files, key=str)}


def source(name: str) -> str | None:
    """The markdown of runbook ``name`` (e.g. ``qc-stuck-jobs``), or None."""
    return _sources().get(name) if NAME.fullmatch(name) else None


def title(text: str) -> str:
    """A runbook's first heading without the "Runbook:" prefix."""
    first = next((line for line in text.splitlines() if line.startswith("# ")), "# Runbook")
    return first[2:].removeprefix("Runbook:").strip().replace("`", "")


@cache
def alerts() -> list[Alert]:
    """Every alert with a runbook, critical ones first, as the runbooks' header tables say."""
    found = []
    for name, text in _sources().items():
        match = ALERT_ROW.search(text)
        if match:
            found.append(Alert(match["alert"], match["sev"].lower(), name, title(text)))
    return sorted(found, key=lambda a: (a.severity != "critical", a.name))


def slug(text: str) -> str:
    """A heading's anchor as GitHub makes it, so the runbooks' own ``#resolution`` links work."""
    kept = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return kept.replace(" ", "-")


def _anchor_headings(tokens: list[Token]) -> None:
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and i + 1 < len(tokens):
            token.attrSet("id", slug(tokens[i + 1].content))


def _local_links(tokens: list[Token]) -> None:
    """``other-runbook.md#part`` links become the dashboard's own runbook pages."""
    for token in tokens:
        for child in token.children or []:
            href = child.attrGet("href") if child.type == "link_open" else None
            match = LOCAL_LINK.fullmatch(str(href)) if href else None
            if match:
                child.attrSet("href", URL_PREFIX + match["name"] + (match["anchor"] or ""))


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def html(text: str) -> Markup:
    """A runbook as HTML: headings with GitHub's anchors, links between runbooks kept."""
    parser = _parser()
    tokens = parser.parse(text)
    _anchor_headings(tokens)
    _local_links(tokens)
    return Markup(parser.renderer.render(tokens, parser.options, {}))  # noqa: S704 - raw HTML off
