"""Failure messages say what happened, where, and whether the job will be retried."""

from __future__ import annotations

from kickflow.errors import (
    DatabaseError,
    FfmpegMemoryExceeded,
    FfmpegStalled,
    FileTooLarge,
    NotMedia,
)
from kickflow.worker.logs import line
from kickflow.worker.messages import failure_message, unexpected_message


def test_watchdog_kill_names_the_phase_and_the_retry() -> None:
    exc = FfmpegStalled("FFmpeg made no progress for 120 s at 63% — killed")
    assert failure_message(exc, "analyzing", 74.6, will_retry=True) == (
        "FFmpeg made no progress for 120 s at 63% (analysis) — killed; will retry"
    )
    assert failure_message(exc, "analyzing", 74.6, will_retry=False).endswith(
        "— gave up: no attempts left"
    )


def test_memory_limit_message_is_kept_as_the_engine_wrote_it() -> None:
    exc = FfmpegMemoryExceeded("memory limit exceeded (2048 MB) while analysing — not retried")
    assert failure_message(exc, "analyzing", 50, will_retry=False) == exc.message


def test_bad_input_is_the_inputs_own_sentence() -> None:
    exc = NotMedia("not a media file: no audio or video stream")
    assert failure_message(exc, "analyzing", 40, will_retry=False) == exc.message
    big = FileTooLarge("the file is 812 MB, over the 500 MB limit — not retried")
    assert failure_message(big, "initializing", 5, will_retry=False) == big.message


def test_transient_errors_say_where_and_that_they_retry() -> None:
    exc = DatabaseError("database error: connection refused")
    assert failure_message(exc, "downloading", 22.4, will_retry=True) == (
        "database error: connection refused during download at 22%; will retry"
    )


def test_unexpected_errors_name_the_phase() -> None:
    assert unexpected_message(ValueError("boom"), "reporting") == (
        "unexpected error during report: ValueError: boom"
    )


def test_log_lines_are_tagged_and_structured() -> None:
    text = line("failed", job="j1", attempt=2, error="no audio stream", phase=None)
    assert text == '[QCWorker] action=failed job=j1 attempt=2 error="no audio stream"'
