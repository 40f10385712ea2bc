"""Worker fixtures: ``run_worker`` starts in-process workers on the test store, stopped after."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kickflow.config import Settings
from kickflow.jobs import JobStore, SqlJobStore
from kickflow.worker import Worker


@pytest.fixture
def run_worker(store: JobStore) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(settings: Settings | None = None, concurrency: int = 1) -> Worker:
        worker_store = SqlJobStore(store.url, settings or store.settings) if settings else store
        worker = Worker(worker_store, settings, concurrency=concurrency)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(grace=0)
