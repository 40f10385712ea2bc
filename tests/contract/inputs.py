"""Part of the USER contract (``TestUserContract`` inherits it): the inputs a job carries
besides its media file (subtitle files delivered with it, a source timecode), stored with the
job, read back with it, handed to the worker that claims it and kept by a retry."""

from __future__ import annotations

from kickflow.jobs import JobInputs, Sidecar
from tests.contract.harness import ContractStore

SUBTITLES = (
    Sidecar("path", "/media/EP01.en.srt", "EP01.en.srt", 1200),
    Sidecar("upload", "org/u1/EP01.fr.vtt", "EP01.fr.vtt", None),
)
INPUTS = JobInputs(SUBTITLES, "09:59:50;00")


class JobInputsContract:
    def test_a_job_keeps_its_inputs_and_the_worker_is_handed_them(
        self, store: ContractStore
    ) -> None:
        one = store.add("one.mov", inputs=INPUTS)
        [two] = store.jobs.enqueue_many(
            [
                store.jobs.new_job(
                    store.org, "path", "/media/two.mov", file_name="two.mov",
                    inputs=JobInputs(timecode_start="10:00:00:00"),
                )
            ]
        )  # fmt: skip
        plain = store.add("plain.mov")
        assert one.inputs == INPUTS
        assert two.inputs == JobInputs((), "10:00:00:00")
        assert plain.inputs == JobInputs() and not plain.inputs
        assert store.jobs.get(store.org, one.id).inputs == INPUTS
        listed = {j.id: j for j in store.jobs.list_jobs(store.org).jobs}
        assert listed[one.id].inputs == INPUTS
        claimed = {c.job.id: c.job for c in store.worker.claim("w1", limit=3)}
        assert claimed[one.id].inputs == INPUTS, "the worker checks the same delivery"
        assert claimed[two.id].inputs.timecode_start == "10:00:00:00"
        assert claimed[plain.id].inputs == JobInputs()

    def test_a_keyed_submission_answers_with_the_first_jobs_inputs(
        self, store: ContractStore
    ) -> None:
        first = store.add("a.mov", idempotency_key="k1", inputs=INPUTS)
        again = store.add("a.mov", idempotency_key="k1", inputs=JobInputs(timecode_start="1:0"))
        assert again.id == first.id and again.inputs == INPUTS

    def test_a_retried_job_keeps_its_inputs(self, store: ContractStore) -> None:
        job = store.add("one.mov", inputs=INPUTS)
        lease = store.claim_one().lease
        store.worker.fail(lease, "not_media", "not media", permanent=True)
        assert store.jobs.retry(store.org, job.id).inputs == INPUTS
        assert store.claim_one().job.inputs == INPUTS
