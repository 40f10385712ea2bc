"""The worker's FFmpeg watchdog fires before the job's lease can expire."""

from __future__ import annotations

from kickflow.config import Settings
from kickflow.worker.pipeline import STALL_FLOOR_S, watchdog_settings


def test_defaults_kill_a_hung_ffmpeg_before_the_lease_expires() -> None:
    base = Settings(lease_seconds=60, heartbeat_seconds=10, ffmpeg_stall_seconds=120)
    tuned = watchdog_settings(base)
    assert tuned.ffmpeg_stall_seconds == 40
    assert tuned.ffmpeg_stall_seconds + tuned.ffmpeg_kill_grace_seconds < base.lease_seconds
    assert base.ffmpeg_stall_seconds == 120, "the caller's settings are not changed"


def test_a_shorter_stall_window_is_kept() -> None:
    base = Settings(lease_seconds=60, heartbeat_seconds=10, ffmpeg_stall_seconds=15)
    assert watchdog_settings(base).ffmpeg_stall_seconds == 15


def test_tiny_leases_do_not_make_the_watchdog_trigger_happy() -> None:
    base = Settings(lease_seconds=3, heartbeat_seconds=1, ffmpeg_stall_seconds=120)
    assert watchdog_settings(base).ffmpeg_stall_seconds == STALL_FLOOR_S


def test_an_explicit_short_stall_window_survives_a_tiny_lease() -> None:
    base = Settings(lease_seconds=3, heartbeat_seconds=1, ffmpeg_stall_seconds=2)
    assert watchdog_settings(base).ffmpeg_stall_seconds == 2


def test_resource_caps_are_on_by_default() -> None:
    fields = Settings.model_fields
    assert fields["ffmpeg_max_memory_mb"].default > 0
    assert fields["probe_max_memory_mb"].default > 0
    assert fields["org_max_running"].default > 0
