"""The dashboard's doors, in a real browser against a real server: signing in, what a viewer
may do, what another organisation may see, and state changes without the CSRF token.

Every refusal is checked beside an acceptance of the same request by someone allowed (or with
the token), so a test cannot pass because a route is missing or the check finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIResponse, Page, expect

from tests.browser.dashboard import FINISHED, JOB_TIMEOUT_S, ORG_B, Dashboard
from tests.browser.helpers import expect_console_error, fill_sign_in, post_from_page
from tests.fixtures_media import av_clip
from tests.fixtures_server import wait_for

PageFactory = Callable[..., Page]
ACME_FILE = "acme-confidential-delivery.mp4"
# Controls named for a change; matched on the text of buttons in the page's content.
ACTION = r"\b(retry|reprocess|re-?queue|cancel|delete|remove|revoke|invite|create|upload|save)\b"
ACTION_CONTROLS_JS = """(pattern) => {
  const action = new RegExp(pattern, "i");
  const main = document.querySelector("main");
  const found = [];
  for (const form of main.querySelectorAll("form")) {
    if (form.method.toLowerCase() === "post" && !form.closest("dialog")) {
      found.push("form POST " + form.getAttribute("action"));
    }
  }
  const controls = "button, input[type=submit], input[type=button], [role=button]";
  for (const el of main.querySelectorAll(controls)) {
    const name = (el.textContent || el.value || el.getAttribute("aria-label") || "").trim();
    if (!el.closest("dialog") && action.test(name)) found.push("button " + name);
  }
  return found;
}"""
PAGES = {"jobs list": "/jobs", "job page": "/jobs/{job}", "settings": "/settings"}


@pytest.fixture(scope="module")
def acme_job(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A completed job of org A (with a report), under a name org B must never see."""
    clip = av_clip(tmp_path_factory.mktemp("clips") / ACME_FILE, 3, size="320x240")
    job_id = dashboard.submit(clip)
    assert dashboard.wait_for_job(job_id)["state"] == "completed", dashboard.output()
    return job_id


@pytest.fixture(scope="module")
def short_job(dashboard: Dashboard, short_clip: Path) -> Callable[[], str]:
    """Makes finished jobs of org A that a test may re-run."""

    def make() -> str:
        job_id = dashboard.submit(short_clip)
        dashboard.wait_for_job(job_id)
        return job_id

    return make


def action_controls(page: Page) -> list[str]:
    """The controls in the page's content that change something: forms that POST and buttons
    named for an action, hidden ones included (a viewer must not be sent them at all)."""
    found: list[str] = page.evaluate(ACTION_CONTROLS_JS, ACTION)
    return found


def statuses(replies: dict[str, APIResponse]) -> dict[str, int]:
    return {what: reply.status for what, reply in replies.items()}


def test_sign_in_lands_on_the_jobs_page_with_a_safe_cookie(
    signed_in_page: PageFactory, dashboard: Dashboard
) -> None:
    page = signed_in_page("member")
    expect(page).to_have_url(f"{dashboard.url}/jobs")
    expect(page.locator("header")).to_contain_text(dashboard.person("member").name)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["kf_session"]["httpOnly"] is True
    assert cookies["kf_session"]["sameSite"] == "Lax"


def test_a_wrong_password_shows_the_message_and_keeps_the_email(
    anonymous_page: PageFactory, dashboard: Dashboard
) -> None:
    page = anonymous_page()
    expect_console_error(page, r"status of 401")  # the refused sign-in answers 401
    viewer = dashboard.person("viewer")
    page.goto(f"{dashboard.url}/login")
    fill_sign_in(page, viewer.email, viewer.password + "-wrong")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(viewer.email)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert "kf_session" not in {c["name"] for c in page.context.cookies()}
    page.goto(f"{dashboard.url}/jobs")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fjobs$"))


@pytest.mark.parametrize("where", PAGES)
def test_a_viewer_sees_no_action_buttons(
    where: str, signed_in_page: PageFactory, dashboard: Dashboard, acme_job: str
) -> None:
    path = PAGES[where].format(job=acme_job)
    viewer, admin = signed_in_page("viewer"), signed_in_page("admin")
    for page in (viewer, admin):
        response = page.goto(f"{dashboard.url}{path}")
        assert response is not None and response.status == 200, path
    assert action_controls(admin), f"the admin has no action on the {where}: the check is blind"
    assert action_controls(viewer) == []


def test_forged_posts_of_a_viewer_are_refused(
    signed_in_page: PageFactory, dashboard: Dashboard, acme_job: str
) -> None:
    viewer = signed_in_page("viewer")
    viewer.goto(f"{dashboard.url}/jobs/{acme_job}")
    before = dashboard.job(acme_job)
    job = {"jobId": acme_job}
    forged = {
        "retry form": post_from_page(viewer, f"/jobs/{acme_job}/retry", form={}),
        "cancel form": post_from_page(viewer, f"/jobs/{acme_job}/cancel", form={}),
        "bulk form": post_from_page(
            viewer, "/jobs/bulk", form={"action": "retry", "job_ids": acme_job}
        ),
        "API reprocess": post_from_page(viewer, "/api/qc/reprocess", json=job),
        "API cancel": post_from_page(viewer, "/api/qc/cancel", json=job),
        "API recovery": post_from_page(viewer, "/api/qc/debug", json={"action": "retry_stuck"}),
    }
    assert statuses(forged) == dict.fromkeys(forged, 403)
    after = dashboard.job(acme_job)
    assert (after["state"], after["attempt"]) == (before["state"], before["attempt"])
    # The token was good: the same viewer signs out with it (a POST any role may make).
    assert post_from_page(viewer, "/logout", form={}).status == 303


def test_org_b_cannot_open_a_job_of_org_a(
    signed_in_page: PageFactory, dashboard: Dashboard, acme_job: str
) -> None:
    acme = signed_in_page("viewer")
    acme.goto(f"{dashboard.url}/jobs")
    expect(acme.locator("main")).to_contain_text(ACME_FILE)  # org A's own people see it
    globex = signed_in_page("admin", ORG_B)
    expect_console_error(globex, r"status of 404")
    response = globex.goto(f"{dashboard.url}/jobs/{acme_job}")
    assert response is not None and response.status == 404
    html = globex.content()
    assert ACME_FILE not in html and "acme" not in html.lower()
    for path in (f"/api/qc/jobs/{acme_job}", f"/api/qc/jobs/{acme_job}/report"):
        assert globex.request.get(f"{dashboard.url}{path}").status == 404, path
    globex.goto(f"{dashboard.url}/jobs")
    expect(globex.locator("main")).not_to_contain_text(ACME_FILE)


def test_posts_without_the_csrf_token_are_refused(
    signed_in_page: PageFactory, dashboard: Dashboard, short_job: Callable[[], str]
) -> None:
    job_id = short_job()
    member = signed_in_page("member")
    member.goto(f"{dashboard.url}/jobs/{job_id}")
    before = dashboard.job(job_id)
    job = {"jobId": job_id}
    cross_site = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    refused = {
        "retry form": post_from_page(member, f"/jobs/{job_id}/retry", form={}, csrf=False),
        "bulk form": post_from_page(
            member, "/jobs/bulk", form={"action": "retry", "job_ids": job_id}, csrf=False
        ),
        "sign-out form": post_from_page(member, "/logout", form={}, csrf=False),
        "API with the cookie": post_from_page(member, "/api/qc/reprocess", json=job, csrf=False),
        "API, wrong token": post_from_page(
            member, "/api/qc/reprocess", json=job, csrf=False, headers={"X-CSRF-Token": "x" * 43}
        ),
        "API, cross-site": post_from_page(
            member, "/api/qc/reprocess", json=job, headers=cross_site
        ),
    }
    assert statuses(refused) == dict.fromkeys(refused, 403)
    after = dashboard.job(job_id)
    assert (after["state"], after["attempt"]) == (before["state"], before["attempt"])
    member.reload()  # still signed in: the sign-out without a token did nothing
    expect(member).to_have_url(f"{dashboard.url}/jobs/{job_id}")
    # With the page's token the very same requests go through.
    assert post_from_page(member, "/api/qc/reprocess", json=job).status == 200
    again = finished_again(dashboard, job_id, after)
    assert post_from_page(member, f"/jobs/{job_id}/retry", form={}).status == 303
    finished_again(dashboard, job_id, again)


def finished_again(dashboard: Dashboard, job_id: str, last: dict[str, Any]) -> dict[str, Any]:
    """The job once it has finished a run after ``last`` (the job as it was then)."""

    def rerun() -> dict[str, Any] | None:
        job = dashboard.job(job_id)
        done = job["state"] in FINISHED and job["finishedAt"] != last["finishedAt"]
        return job if done else None

    found: dict[str, Any] = wait_for(rerun, JOB_TIMEOUT_S, f"job {job_id} to run again", 0.25)
    return found
