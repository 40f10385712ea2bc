"""The dashboard: server-rendered pages (Jinja2) with small progressive enhancement.

Foundation: :mod:`~kickflow.web.templating` (``render``), :mod:`~kickflow.web.session` (who is
signed in, CSRF, the ``ViewerPage``/``MemberPage``/``AdminPage`` dependencies),
:mod:`~kickflow.web.errors` (HTML error pages). Each page owns a module in ``web/pages/``
exposing ``router``; the list is :func:`kickflow.web.pages.routers`.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """The page routers (listed in :mod:`kickflow.web.pages`)."""
    from kickflow.web.pages import routers as page_routers

    return page_routers()
