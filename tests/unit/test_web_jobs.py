"""The Jobs page in-process on the fake store: the list and its columns, every filter (and bad
ones kept as typed, with one sentence and a 400), cursor pagination, tenant scoping, and the
bulk actions with their confirmation, role and CSRF checks and the sentence they leave; plus
the API list's new filters."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from kickflow.jobs import BulkResult, Job, JobState, Lease
from kickflow.web.job_list import ListForm, bulk_outcome, relative, safe_return
from tests.fakes.web import Browser, WebRig, web_rig
from tests.web_helpers import signed_in

ROW = re.compile(r'<tr data-job-id="([^"]+)"')


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path) as r:
        yield r


@pytest.fixture
def member(rig: WebRig) -> Browser:
    return signed_in(rig, "member")


@pytest.fixture
def viewer(rig: WebRig) -> Browser:
    return signed_in(rig, "viewer")


def listed(page: httpx.Response) -> list[str]:
    """The job ids of the table's rows (the row <template> has an empty id)."""
    return [i for i in ROW.findall(page.text) if i]


def flash_after(browser: Browser, reply: httpx.Response) -> tuple[str, str]:
    """(kind, message) of the flash a redirect left, read from the page it leads to."""
    assert reply.status_code == 303, reply.text
    page = browser.get(reply.headers["location"])
    found = re.search(r'<p class="flash flash-(\w+)"[^>]*>([^<]+)</p>', page.text)
    assert found, page.text
    return found.group(1), found.group(2)


def urgent(rig: WebRig, name: str, **kw: object) -> Job:
    """A job the next claim takes before the others (for :func:`start` and :func:`finish`)."""
    return rig.api.add(name, priority=50, **kw)


def _claim(rig: WebRig, job: Job) -> Lease:
    [claimed] = rig.store.claim("w1", limit=1)
    assert claimed.job.id == job.id, "add it with urgent()"
    return claimed.lease


def finish(rig: WebRig, job: Job, verdict: str = "passed") -> Job:
    return rig.store.complete(_claim(rig, job), verdict, {"verdict": verdict})


def start(rig: WebRig, job: Job, progress: float = 40.0) -> Job:
    rig.store.heartbeat(_claim(rig, job), progress, "analyzing")
    return rig.store.get(None, job.id)


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_the_organisations_jobs_newest_first(rig: WebRig, viewer: Browser) -> None:
    older = rig.api.add("older.mov", project="pilot")
    newer = start(rig, urgent(rig, "newer.mxf"), 62.0)
    rig.api.add("theirs.mov", org=rig.other)
    page = viewer.get("/jobs")
    assert page.status_code == 200
    assert listed(page) == [newer.id, older.id], "newest first, the other organisation's left out"
    assert f'href="/jobs/{newer.id}"' in page.text and "pilot" in page.text
    assert 'class="badge badge-running"' in page.text and "analyzing" in page.text
    assert 'value="0.62"' in page.text, "the progress bar"
    assert "0/3" in page.text and "1/3" in page.text, "attempts"
    assert "theirs.mov" not in page.text
    assert 'id="jobs-live"' in page.text and "/static/jobs.js" in page.text


def test_a_viewer_gets_no_checkboxes_and_no_bulk_buttons(
    rig: WebRig, viewer: Browser, member: Browser
) -> None:
    rig.api.add("a.mov")
    seen = viewer.get("/jobs").text
    assert 'name="job_ids"' not in seen and "/jobs/bulk" not in seen
    acting = member.get("/jobs").text
    assert 'name="job_ids"' in acting and 'action="/jobs/bulk"' in acting
    assert acting.count("data-bulk-action") == 3 and "data-confirm=" in acting


def test_each_filter_narrows_the_list(rig: WebRig) -> None:
    old = rig.api.add("Old_Promo.MOV", project="promo", profile="web")
    rig.api.clock.advance(3 * 86400)  # the others three days later (UTC days of the fake clock)
    viewer = signed_in(rig, "viewer")  # after the jump: a session would have timed out
    done = finish(rig, urgent(rig, "episode-01.mxf", project="series"), "needs_review")
    queued = rig.api.add("episode-02.mxf", project="series")
    today = _day(rig.api.clock.current)
    cases = {
        "state=completed": [done.id],
        "state=queued": [queued.id, old.id],
        "verdict=needs_review": [done.id],
        "project=series": [queued.id, done.id],
        "profile=web": [old.id],
        "q=EPISODE": [queued.id, done.id],
        "q=_promo": [old.id],
        f"from={today}": [queued.id, done.id],
        f"to={_day(old.created_at)}": [old.id],
        f"from={today}&to={today}&q=02": [queued.id],
    }
    for query, expected in cases.items():
        page = viewer.get(f"/jobs?{query}")
        assert page.status_code == 200, (query, page.text)
        assert listed(page) == expected, query


def _day(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def test_the_form_keeps_what_was_typed(rig: WebRig, viewer: Browser) -> None:
    page = viewer.get("/jobs", params={"q": "take <1>", "project": "p & q", "state": "failed"})
    assert 'value="take &lt;1&gt;"' in page.text and 'value="p &amp; q"' in page.text
    assert '<option value="failed" selected>' in page.text
    assert 'href="/jobs">Clear</a>' in page.text


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ({"state": "done"}, "There is no job state called 'done'."),
        ({"verdict": "ok"}, "There is no verdict called 'ok'."),
        ({"from": "2024-02-30"}, "The 'from' date '2024-02-30' is not a date: use YYYY-MM-DD."),
        ({"to": "yesterday"}, "The 'to' date 'yesterday' is not a date: use YYYY-MM-DD."),
        ({"from": "2024-05-02", "to": "2024-05-01"}, "The 'from' date is after the 'to' date."),
        ({"q": "x" * 201}, "The file name filter is at most 200 characters."),
        ({"project": "a\x1bb"}, "The project filter has control characters."),
        ({"cursor": "not a cursor!"}, "That page link is broken: start again from the newest"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "Invalid cursor"),
    ],
)
def test_bad_filters_answer_400_with_one_sentence_and_keep_the_form(
    rig: WebRig, viewer: Browser, query: dict[str, str], sentence: str
) -> None:
    rig.api.add("a.mov")
    page = viewer.get("/jobs", params=query)
    assert page.status_code == 400
    error = re.search(r'id="filter-error">([^<]+)<', page.text)
    assert error and unescape(error.group(1)).startswith(sentence), page.text
    assert listed(page) == [], "no list under a filter that could not be read"
    for name, value in query.items():
        if name in ("from", "to", "state"):
            assert value in page.text, f"{name} kept as typed"


def unescape(text: str) -> str:
    return html.unescape(text)


def test_cursor_pages_with_older_and_newest_links(rig: WebRig, viewer: Browser) -> None:
    jobs = [rig.api.add(f"clip-{i:03d}.mov", project="p") for i in range(120)]
    newest_first = [j.id for j in reversed(jobs)]
    seen: list[str] = []
    page = viewer.get("/jobs?project=p")
    assert "Newest</a>" not in page.text
    while True:
        seen += listed(page)
        older = re.search(r'href="([^"]+)" rel="next">Older', page.text)
        if older is None:
            break
        url = unquote(older.group(1).replace("&amp;", "&"))
        assert "project=p" in url, "the filters go along"
        page = viewer.get(url)
        assert 'href="/jobs?project=p">Newest</a>' in page.text
    assert seen == newest_first
    assert len(listed(viewer.get("/jobs"))) == 50


def test_signed_out_the_list_sends_to_sign_in(rig: WebRig) -> None:
    reply = rig.browser().get("/jobs?state=failed")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=%2Fjobs%3Fstate%3Dfailed"


# --- bulk actions --------------------------------------------------------------------------------


def bulk(browser: Browser, action: str, ids: list[str], **extra: str) -> httpx.Response:
    """The bulk form as the page sends it (the CSRF token of the last page loaded)."""
    form = {"action": action, "csrf_token": browser.csrf, **extra, "job_ids": ids}
    return browser.client.request("POST", "/jobs/bulk", data=form)


def test_bulk_asks_first_without_javascript(rig: WebRig, member: Browser) -> None:
    a, b = rig.api.add("a.mov"), rig.api.add("b.mov")
    member.get("/jobs")
    page = bulk(member, "cancel", [a.id, b.id], return_to="/jobs?state=queued")
    assert page.status_code == 200
    assert "Cancel 2 jobs? Running ones are asked to stop." in page.text
    assert page.text.count('name="job_ids"') == 2 and 'name="confirmed" value="yes"' in page.text
    assert 'href="/jobs?state=queued">Back to the list' in page.text
    assert {rig.store.get(None, j.id).state for j in (a, b)} == {JobState.QUEUED}, "not yet"


def test_bulk_retry_says_what_happened_to_each_job(rig: WebRig, member: Browser) -> None:
    done = [finish(rig, urgent(rig, f"done-{i}.mov")) for i in range(3)]
    busy = start(rig, urgent(rig, "busy.mov"))
    member.get("/jobs")
    reply = bulk(member, "retry", [*(j.id for j in done), busy.id], confirmed="yes")
    assert flash_after(member, reply) == (
        "warn",
        "3 jobs re-queued; 1 was running and was not retried.",
    )
    assert all(rig.store.get(None, j.id).state is JobState.QUEUED for j in done)
    assert rig.store.get(None, busy.id).state is JobState.RUNNING


def test_bulk_cancel_and_delete(rig: WebRig, member: Browser) -> None:
    busy = start(rig, urgent(rig, "r.mov"))
    queued = rig.api.add("q.mov")
    theirs = rig.api.add("theirs.mov", org=rig.other)
    member.get("/jobs")
    reply = bulk(member, "cancel", [queued.id, busy.id, theirs.id], confirmed="yes")
    assert flash_after(member, reply) == (
        "warn",
        "1 job cancelled; 1 running job was asked to stop; 1 was not found.",
    )
    assert rig.store.get(None, theirs.id).state is JobState.QUEUED, "another org's: untouched"
    reply = bulk(member, "delete", [queued.id, theirs.id], confirmed="yes", return_to="/jobs?q=q")
    assert reply.headers["location"] == "/jobs?q=q"
    assert flash_after(member, reply)[1] == "1 job deleted; 1 was not found."
    assert listed(member.get("/jobs")) == [busy.id]


def test_bulk_needs_a_member_and_the_csrf_token(
    rig: WebRig, viewer: Browser, member: Browser
) -> None:
    job = rig.api.add("a.mov")
    viewer.get("/jobs")
    assert bulk(viewer, "cancel", [job.id], confirmed="yes").status_code == 403
    member.get("/jobs")
    forged = member.client.request(
        "POST", "/jobs/bulk", data={"action": "cancel", "job_ids": job.id, "confirmed": "yes"}
    )
    assert forged.status_code == 403
    assert rig.store.get(None, job.id).state is JobState.QUEUED


def test_bulk_refuses_what_the_page_never_sends(rig: WebRig, member: Browser) -> None:
    job = rig.api.add("a.mov")
    member.get("/jobs")
    assert bulk(member, "explode", [job.id], confirmed="yes").status_code == 400
    assert bulk(member, "cancel", ["../etc"], confirmed="yes").status_code == 400
    assert flash_after(member, bulk(member, "cancel", [], confirmed="yes")) == (
        "warn",
        "Select at least one job first.",
    )
    away = bulk(member, "cancel", [job.id], confirmed="yes", return_to="https://evil.test/")
    assert away.headers["location"] == "/jobs"


# --- pure parts ----------------------------------------------------------------------------------


def test_list_form_urls_and_safe_returns() -> None:
    form = ListForm.from_query({"q": " take ", "from": "2024-05-01", "state": ""})
    assert form.url() == "/jobs?q=take&from=2024-05-01"
    assert form.url("abc") == "/jobs?q=take&from=2024-05-01&cursor=abc"
    assert ListForm().url() == "/jobs" and not ListForm().active
    window = ListForm(date_from="2024-05-01", date_to="2024-05-01").store_filter()
    assert window["created_to"] - window["created_from"] == 86400, "the whole 'to' day"
    for bad in ("//evil.test", "/jobs/../login", "https://x", "/jobs?\\x"):
        assert safe_return(bad) == "/jobs"
    assert safe_return("/jobs?state=failed") == "/jobs?state=failed"


def test_relative_times() -> None:
    assert relative(1000.0, 990.0) == "just now"
    assert relative(1000.0, 1000.0 - 4 * 60) == "4 min ago"
    assert relative(1000.0, 1000.0 - 3 * 3600) == "3 h ago"
    assert relative(1e6, 1e6 - 86400) == "1 day ago"
    assert relative(1e6, 1e6 - 3 * 86400) == "3 days ago"


def test_bulk_outcome_sentences(rig: WebRig) -> None:
    queued = rig.api.add("a.mov")
    before = {queued.id: queued}
    retry = BulkResult([], {queued.id: "cannot retry a queued job", "gone": "no job gone"})
    assert bulk_outcome("retry", before, retry) == (
        "0 jobs re-queued; 1 was not found; 1 was queued and was not retried."
    )
    done = BulkResult([queued, queued], {})
    assert bulk_outcome("delete", before, done) == "2 jobs deleted."


# --- the API list takes the same filters ----------------------------------------------------------


def test_the_api_list_takes_the_new_filters(rig: WebRig) -> None:
    first = rig.api.add("Take_1.mov", profile="web")
    rig.api.clock.advance(10)
    second = rig.api.add("take-2.mov")
    at = datetime.fromtimestamp(second.created_at - 1, UTC).isoformat()

    def ids(**params: str) -> list[str]:
        reply = rig.api.get("/api/qc/jobs", role="viewer", params=params)
        assert reply.status_code == 200, reply.text
        return [j["id"] for j in reply.json()["jobs"]]

    assert ids(text="TAKE_") == [first.id], "case-insensitive, and _ is not a wildcard"
    assert ids(profile="web") == [first.id]
    assert ids(createdFrom=at) == [second.id]
    assert ids(createdTo=at) == [first.id]
    assert ids(createdFrom=at, text="take") == [second.id]
    for bad in (
        {"createdFrom": "yesterday"},
        {"createdTo": "2024-05-01T00:00:00"},  # no time zone: ambiguous
        {"text": "x" * 201},
        {"profile": "a\x1bb"},
    ):
        reply = rig.api.get("/api/qc/jobs", role="viewer", params=bad)
        assert reply.status_code == 422, (bad, reply.text)
        assert reply.json()["error"]["message"], "one sentence naming the field"
