"""One embedded worker slot of ``kickflow serve`` (``python -m kickflow.api.slot_main``).

The worker is :class:`kickflow.worker.Worker` with one job slot, exactly as ``kickflow worker
--concurrency 1`` runs it, plus SIGUSR1 to wake it at once: ``trigger_worker`` uses that so an
idle slot looks for work now instead of at its next poll.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

PARENT_CHECK_SECONDS = 1.0


def _stop_when_orphaned(parent: int) -> None:
    """If ``kickflow serve`` dies without stopping its slots, stop gracefully on our own
    (SIGTERM to ourselves: running jobs finish or go back to the queue)."""

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="kf-parent-watch", daemon=True).start()


def main() -> int:
    from kickflow.config import get_settings
    from kickflow.jobs import SqlJobStore
    from kickflow.worker import Worker, logs

    logs.configure()
    settings = get_settings()
    store = SqlJobStore(settings=settings)
    worker = Worker(store, settings, concurrency=1)
    signal.signal(signal.SIGUSR1, lambda *_: worker.wake())
    _stop_when_orphaned(os.getppid())
    try:
        return worker.run()
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
