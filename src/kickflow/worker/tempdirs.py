"""Per-job temporary directories under ``KICKFLOW_DATA_DIR/work/<worker id>/``: removed when
the attempt ends, whatever the outcome, and left-overs of dead workers cleaned at start-up."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kickflow.jobs import Lease


def work_root(data_dir: Path) -> Path:
    return data_dir / "work"


@contextmanager
def job_dir(data_dir: Path, lease: Lease) -> Iterator[Path]:
    """A fresh directory for one attempt, removed on exit."""
    path = work_root(data_dir) / lease.worker_id / f"{lease.job_id}-a{lease.attempt}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def clean_stale(data_dir: Path, live_worker_ids: Iterable[str]) -> list[Path]:
    """Remove the work directories of workers that are not alive; returns what was removed."""
    root = work_root(data_dir)
    if not root.is_dir():
        return []
    live = set(live_worker_ids)
    removed = []
    for child in root.iterdir():
        if child.name not in live:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed
