"""No dashboard page asks another host for anything: every asset is served by the package.

Each page is checked twice: the requests the browser made (recorded for every page by the
fixtures), and the resources the page *would* load — every ``src``/``href`` of a loading
element and every ``url()``/``@import`` of its style sheets — so an image below the fold or a
font used only in some state cannot slip through.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.browser.dashboard import Dashboard
from tests.browser.helpers import PageWatch, expect_console_error, is_local, watch_of
from tests.fixtures_media import LEGAL_PICTURE, av_clip

PageFactory = Callable[..., Page]
SIGNED_IN_PAGES = (
    "/jobs",
    "/submit",
    "/jobs/{job}",
    "/ops",
    "/profiles",
    "/profiles/ebu-r128",
    "/settings",
    "/account",
)
# Every URL a page would load: loading elements' attributes and style sheets' url()/@import.
RESOURCES_JS = """() => {
  const urls = [];
  const loading = "script[src], link[href]:not([rel~=alternate]), img, source, video, audio,"
    + " iframe, embed, object, image, use, track";
  for (const el of document.querySelectorAll(loading)) {
    for (const name of ["src", "href", "srcset", "poster", "data", "xlink:href"]) {
      const value = el.getAttribute(name);
      if (!value) continue;
      for (const part of name === "srcset" ? value.split(",") : [value]) {
        const url = part.trim().split(/\\s+/)[0];
        if (url && !url.startsWith("#")) urls.push(new URL(url, document.baseURI).href);
      }
    }
  }
  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      for (const match of rule.cssText.matchAll(/url\\(["']?([^"')]+)["']?\\)/g)) {
        urls.push(new URL(match[1], sheet.href || document.baseURI).href);
      }
      if (rule.href) urls.push(new URL(rule.href, sheet.href || document.baseURI).href);
    }
  }
  return urls;
}"""
ADD_IMAGE_JS = "(url) => { const img = new Image(); img.src = url; document.body.append(img); }"
ADD_BACKGROUND_JS = (
    "(url) => document.styleSheets[0].insertRule(`body { background: url(${url}) }`)"
)


@pytest.fixture(scope="module")
def report_job(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A finished job whose report has a video finding (a black segment) and so pictures."""
    black = f"{LEGAL_PICTURE},drawbox=c=black:t=fill:enable='between(t,2,4)'"
    clip = av_clip(tmp_path_factory.mktemp("clips") / "black.mp4", 6, vf=black, size="320x240")
    job_id = dashboard.submit(clip)
    assert dashboard.wait_for_job(job_id)["state"] == "completed", dashboard.output()
    return job_id


def foreign_resources(page: Page, origin: str) -> list[str]:
    found: list[str] = page.evaluate(RESOURCES_JS)
    return sorted({url for url in found if not is_local(url, origin)})


def visit(page: Page, url: str) -> None:
    """Open ``url``, which must answer 200, and let the page's scripts start."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"


def test_no_page_asks_another_host_for_anything(
    anonymous_page: PageFactory,
    signed_in_page: PageFactory,
    dashboard: Dashboard,
    report_job: str,
) -> None:
    visited = [(anonymous_page(), "/login")]
    admin = signed_in_page("admin")
    visited += [(admin, path.format(job=report_job)) for path in SIGNED_IN_PAGES]
    found = {}
    for page, path in visited:
        requests = watch_of(page).requests
        before = len(requests)
        visit(page, f"{dashboard.url}{path}")
        assert len(requests) > before, f"no request recorded for {path}: the watch is blind"
        made = [url for url in requests[before:] if not is_local(url, dashboard.url)]
        found[path] = sorted({*made, *foreign_resources(page, dashboard.url)})
    assert {path: urls for path, urls in found.items() if urls} == {}


def test_the_watch_sees_a_request_to_another_host(
    anonymous_page: PageFactory, dashboard: Dashboard
) -> None:
    """The checks themselves: an image and a style sheet's background from elsewhere are seen,
    then forgiven here (they are this test's own doing) so that the teardown check passes."""
    page = anonymous_page()
    visit(page, f"{dashboard.url}/login")
    picture = "http://assets.example.invalid/pixel.png"
    background = "http://assets.example.invalid/background.png"
    expect_console_error(page, r"assets\.example\.invalid")  # blocked by the CSP, or unresolved
    with page.expect_request(picture):
        page.evaluate(ADD_IMAGE_JS, picture)
    page.evaluate(ADD_BACKGROUND_JS, background)
    assert foreign_resources(page, dashboard.url) == [background, picture]
    watch = watch_of(page)
    assert picture in watch.foreign_requests()
    watch.requests[:] = [url for url in watch.requests if is_local(url, dashboard.url)]


def test_the_teardown_check_names_what_went_wrong() -> None:
    watch = PageWatch("http://127.0.0.1:8000")
    watch.requests += ["http://127.0.0.1:8000/jobs", "data:image/png;base64,AA", "blob:x"]
    watch.requests += ["https://cdn.example.com/app.css", "http://127.0.0.1:9000/other-port"]
    watch.errors += ["console error: boom (at http://127.0.0.1:8000/static/app.js)"]
    watch.errors += ["console error: Failed to load resource: status of 403 (at /api/qc/cancel)"]
    watch.expected.append(re.compile(r"status of 403"))
    assert watch.problems() == [
        "console error: boom (at http://127.0.0.1:8000/static/app.js)",
        "request to another host: https://cdn.example.com/app.css",
        "request to another host: http://127.0.0.1:9000/other-port",
    ]
