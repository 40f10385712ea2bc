"""The Operations page in-process on the fake store: what admins see, the runbook's actions
with their confirmation step, the dead-letter requeue, the queue pause, roles, CSRF, and the
operator's scope (every organisation) against an admin's (their own)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kickflow.jobs import Job, JobState, Role
from tests.fakes.web import Browser, Person, WebRig, web_rig

FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>([^<]+)</p>')


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path) as r:
        yield r


@pytest.fixture
def admin(rig: WebRig) -> Browser:
    return signed_in(rig, rig.person("ann@studio.test", "admin"))


def signed_in(rig: WebRig, person: Person) -> Browser:
    """Signed in through the form, holding the session's CSRF token (from a page it may see)."""
    browser = rig.browser()
    assert browser.sign_in(person).status_code == 303
    assert browser.get("/profiles").status_code == 200
    return browser


def stuck(rig: WebRig, name: str, org: str | None = None, progress: float = 40.0) -> Job:
    """A running job whose worker went silent: its lease ran out a second ago."""
    job = rig.api.add(name, org=org)
    [claimed] = [c for c in rig.store.claim("w1", limit=10) if c.job.id == job.id]
    rig.store.heartbeat(claimed.lease, progress, "analyzing")
    return rig.store.edit(job.id, lease_expires_at=rig.store.clock.current - 1)


def failed(rig: WebRig, name: str) -> Job:
    job = rig.api.add(name)
    [claimed] = [c for c in rig.store.claim("w1", limit=10) if c.job.id == job.id]
    return rig.store.fail(claimed.lease, "not_media", f"{name}: not a media file", permanent=True)


def flash_after(browser: Browser, answer: httpx.Response) -> tuple[str, str]:
    """The message the redirect left, as the next page shows it."""
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ops"
    found = FLASH.search(browser.get("/ops").text)
    assert found is not None, "no flash message"
    return found.group(1), found.group(2)


def act(browser: Browser, action: str, **fields: str | list[str]) -> httpx.Response:
    return browser.client.request(
        "POST",
        "/ops/actions",
        data={"action": action, "confirmed": "yes", "csrf_token": browser.csrf, **fields},
    )


# --- what the page shows ------------------------------------------------------------------------


def test_an_admin_sees_every_section(rig: WebRig, admin: Browser) -> None:
    stuck(rig, "frozen.mov")
    failed(rig, "broken.wav")
    rig.store.register_worker("w1", "host-a", 4242, 2)
    page = admin.get("/ops").text
    for section in ("health", "stuck", "queue", "failed", "charts", "alerts"):
        assert f'id="{section}"' in page, section
    for component in ("database", "storage", "qc_worker", "ffmpeg", "reaper"):
        assert f'data-component="{component}"' in page, component
    assert "frozen.mov" in page and "analyzing" in page and "1 / 3" in page
    assert "broken.wav" in page and "not_media" in page and "broken.wav: not a media file" in page
    assert "host-a" in page and "4242" in page and "frozen.mov</a> <span" in page, "current job"
    assert "The queue is running." in page
    assert "<svg" in page and "Jobs finished per hour" in page and "UTC hour" in page
    assert 'href="/ops/runbooks/qc-stuck-jobs"' in page and "QCJobStuck" in page
    assert 'href="/ops/runbooks/qc-no-live-workers"' in page


def test_a_stuck_jobs_heartbeat_is_told_relative_to_the_service_clock(
    rig: WebRig, admin: Browser
) -> None:
    job = stuck(rig, "frozen.mov")
    rig.store.clock.advance(125)
    row = re.search(rf'<tr data-job-id="{job.id}">.*?</tr>', admin.get("/ops").text, re.S)
    assert row is not None
    assert "2 min ago" in row.group(0) and "40 %" in row.group(0)


def test_finished_jobs_appear_in_the_charts(rig: WebRig, admin: Browser) -> None:
    failed(rig, "a.wav")
    rig.api.add("b.wav")
    [claimed] = rig.store.claim("w1")
    rig.store.complete(claimed.lease, "passed", {"n": 1})
    page = admin.get("/ops").text
    assert re.search(r"<title>\d\d:00: 1 completed</title>", page)
    assert re.search(r"<title>\d\d:00: 1 failed</title>", page)
    assert re.search(r"<title>\d\d:00: 50% of 2 failed</title>", page), "the failure rate dot"
    assert "2 jobs finished in the last 24 hours, 1 of them failed." in page


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_are_refused(rig: WebRig, role: Role) -> None:
    job = stuck(rig, "frozen.mov")
    browser = signed_in(rig, rig.person(f"{role}@studio.test", role))
    answer = browser.get("/ops")
    assert answer.status_code == 403 and "needs the admin role" in answer.text
    assert "frozen.mov" not in answer.text
    assert act(browser, "cancel_stuck").status_code == 403
    assert browser.get("/ops/runbooks/qc-stuck-jobs").status_code == 403
    assert rig.store.get(None, job.id).state is JobState.RUNNING


def test_signed_out_goes_to_sign_in(rig: WebRig) -> None:
    answer = rig.browser().get("/ops")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


# --- actions ------------------------------------------------------------------------------------


def test_an_action_without_confirmation_shows_the_question_and_changes_nothing(
    rig: WebRig, admin: Browser
) -> None:
    job = stuck(rig, "frozen.mov")
    answer = admin.post("/ops/actions", {"action": "cancel_stuck"})
    assert answer.status_code == 200
    assert "Cancel every stuck job (1)?" in answer.text
    assert 'name="confirmed" value="yes"' in answer.text, "the confirm step posts it confirmed"
    assert rig.store.get(None, job.id).state is JobState.RUNNING


def test_cancel_stuck_recovers_the_stuck_job(rig: WebRig, admin: Browser) -> None:
    job = stuck(rig, "frozen.mov")
    healthy = rig.api.add("healthy.mov")
    [claimed] = rig.store.claim("w2")
    rig.store.heartbeat(claimed.lease, 10.0, "analyzing")
    assert flash_after(admin, act(admin, "cancel_stuck")) == ("ok", "1 job cancelled.")
    after = rig.store.get(None, job.id)
    assert (after.state, after.error_code) == (JobState.CANCELLED, "cancelled_stuck")
    assert rig.store.get(None, healthy.id).state is JobState.RUNNING, "a moving job is left"
    assert "No stuck jobs." in admin.get("/ops").text


def test_retry_stuck_and_retry_one(rig: WebRig, admin: Browser) -> None:
    one, two = stuck(rig, "one.mov"), stuck(rig, "two.mov")
    assert flash_after(admin, act(admin, "retry_job", job_id=one.id))[1] == "1 job re-queued."
    assert rig.store.get(None, one.id).state is JobState.QUEUED
    assert rig.store.get(None, two.id).state is JobState.RUNNING
    assert flash_after(admin, act(admin, "retry_stuck"))[1] == "1 job re-queued."
    assert rig.store.get(None, two.id).state is JobState.QUEUED


def test_a_job_that_is_no_longer_stuck_is_left_alone_with_the_reason(
    rig: WebRig, admin: Browser
) -> None:
    job = rig.api.add("moving.mov")
    rig.store.claim("w1")
    kind, message = flash_after(admin, act(admin, "retry_job", job_id=job.id))
    assert kind == "error" and "not stuck" in message
    assert rig.store.get(None, job.id).state is JobState.RUNNING


def test_requeue_the_selected_failed_jobs(rig: WebRig, admin: Browser) -> None:
    a, b, c = failed(rig, "a.wav"), failed(rig, "b.wav"), failed(rig, "c.wav")
    answer = act(admin, "requeue_failed", job_ids=[a.id, c.id])
    assert flash_after(admin, answer) == ("ok", "2 jobs re-queued.")
    states = [rig.store.get(None, j.id).state for j in (a, b, c)]
    assert states == [JobState.QUEUED, JobState.FAILED, JobState.QUEUED]
    assert flash_after(admin, act(admin, "requeue_failed"))[0] == "error", "nothing selected"
    assert act(admin, "requeue_failed", job_ids=["../etc"]).status_code == 400


def test_the_confirmation_page_carries_the_selection(rig: WebRig, admin: Browser) -> None:
    a, b = failed(rig, "a.wav"), failed(rig, "b.wav")
    answer = admin.client.request(
        "POST",
        "/ops/actions",
        data={"action": "requeue_failed", "job_ids": [a.id, b.id], "csrf_token": admin.csrf},
    )
    assert "Re-queue 2 selected failed jobs?" in answer.text
    assert answer.text.count('name="job_ids"') == 2
    assert rig.store.get(None, a.id).state is JobState.FAILED


def test_trigger_worker_says_there_are_no_embedded_workers(admin: Browser) -> None:
    kind, message = flash_after(admin, act(admin, "trigger_worker"))
    assert kind == "ok" and message.startswith("No embedded workers in this process")


def test_actions_refuse_a_post_without_the_csrf_token(rig: WebRig, admin: Browser) -> None:
    job = stuck(rig, "frozen.mov")
    for form in (
        {"action": "cancel_stuck", "confirmed": "yes"},
        {"action": "cancel_stuck", "confirmed": "yes", "csrf_token": "forged"},
    ):
        assert admin.client.request("POST", "/ops/actions", data=form).status_code == 403
    assert rig.store.get(None, job.id).state is JobState.RUNNING


def test_an_unknown_action_is_refused(admin: Browser) -> None:
    assert act(admin, "drop_tables").status_code == 400


# --- scope --------------------------------------------------------------------------------------


def test_an_admin_sees_and_acts_on_their_own_organisation_only(rig: WebRig, admin: Browser) -> None:
    mine = stuck(rig, "mine.mov")
    theirs = stuck(rig, "theirs.mov", org=rig.other)
    page = admin.get("/ops").text
    assert "mine.mov" in page and "theirs.mov" not in page
    assert flash_after(admin, act(admin, "cancel_stuck"))[1] == "1 job cancelled."
    assert rig.store.get(None, theirs.id).state is JobState.RUNNING
    assert rig.store.get(None, mine.id).state is JobState.CANCELLED
    confirm = admin.post("/ops/actions", {"action": "retry_job", "job_id": theirs.id})
    assert confirm.status_code == 404 and "theirs.mov" not in confirm.text
    assert act(admin, "retry_job", job_id=theirs.id).status_code == 303
    assert rig.store.get(None, theirs.id).state is JobState.RUNNING, "another org's: not found"


def test_an_operator_sees_and_acts_on_every_organisation(rig: WebRig) -> None:
    mine = stuck(rig, "mine.mov")
    theirs = stuck(rig, "theirs.mov", org=rig.other)
    operator = signed_in(rig, rig.person("op@studio.test", "operator"))
    page = operator.get("/ops").text
    assert "mine.mov" in page and "theirs.mov" in page and "Every organisation" in page
    assert flash_after(operator, act(operator, "retry_job", job_id=theirs.id))[1] == (
        "1 job re-queued."
    )
    assert flash_after(operator, act(operator, "cancel_stuck"))[1] == "1 job cancelled."
    assert rig.store.get(None, mine.id).state is JobState.CANCELLED


def test_only_an_operator_pauses_and_resumes_the_queue(rig: WebRig, admin: Browser) -> None:
    assert 'data-ops-action="pause_queue"' not in admin.get("/ops").text
    assert act(admin, "pause_queue").status_code == 403
    assert not rig.store.queue_paused()
    operator = signed_in(rig, rig.person("op@studio.test", "operator"))
    assert 'data-ops-action="pause_queue"' in operator.get("/ops").text
    assert flash_after(operator, act(operator, "pause_queue"))[1].startswith("The queue is paused")
    assert rig.store.queue_paused()
    page = operator.get("/ops").text
    assert 'data-ops-action="resume_queue"' in page and "The queue is paused" in page
    assert "The queue is paused" in admin.get("/ops").text, "admins see the state"
    flash_after(operator, act(operator, "resume_queue"))
    assert not rig.store.queue_paused()


# --- runbooks -----------------------------------------------------------------------------------


def test_a_runbook_is_served_as_a_page(admin: Browser) -> None:
    page = admin.get("/ops/runbooks/qc-stuck-jobs")
    assert page.status_code == 200
    assert '<h2 id="resolution">Resolution</h2>' in page.text
    assert "curl -sS" in page.text and "<script" not in page.text.split("</head>")[1]
    for bad in ("missing", "..%2Fpyproject", "README", "QC-STUCK-JOBS"):
        assert admin.get(f"/ops/runbooks/{bad}").status_code == 404, bad
