"""Set-up shared by the page tests on the fake store (``tests/fakes/web.py``)."""

from __future__ import annotations

from kickflow.jobs import Role
from tests.fakes.web import Browser, Person, WebRig


def signed_in(rig: WebRig, who: Person | Role, org: str | None = None) -> Browser:
    """A browser signed in as ``who``: a person, or a new person of that role (in ``org``,
    by default the rig's organisation)."""
    if not isinstance(who, Person):
        who = rig.person(f"{who}-{org or 'a'}@studio.test", who, org=org)
    browser = rig.browser()
    assert browser.sign_in(who).status_code == 303
    return browser
