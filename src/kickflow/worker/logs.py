"""One structured line per worker event, tagged ``[QCWorker]`` for the runbook's greps."""

from __future__ import annotations

import logging

log = logging.getLogger("kickflow.worker")
TAG = "[QCWorker]"


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


def line(action: str, **fields: object) -> str:
    """``[QCWorker] action=claimed job=… attempt=1 …`` (None fields are left out)."""
    parts = [f"{key}={_value(val)}" for key, val in fields.items() if val is not None]
    return " ".join([TAG, f"action={action}", *parts])


def info(action: str, **fields: object) -> None:
    log.info(line(action, **fields))


def warning(action: str, **fields: object) -> None:
    log.warning(line(action, **fields))


def stuck_check_failed(reason: str) -> None:
    """The runbook's grep: ``[QCWorker] Stuck job check failed: <reason>``."""
    log.error("%s Stuck job check failed: %s", TAG, reason)


def configure(level: int = logging.INFO) -> None:
    """Log lines to stderr with a UTC timestamp (for ``kickflow worker``)."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
