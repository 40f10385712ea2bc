"""One embedded worker slot of ``kickflow serve`` (``python -m kickflow.api.slot_main``).

The worker is :class:`kickflow.worker.Worker` with one job slot, exactly as ``kickflow worker
--server URL --concurrency 1`` runs it: it talks to its service over loopback with a worker
token made for the slots, so only the service process writes the database and a slot that is
suspended holds no lock anyone waits for. Plus SIGUSR1 to wake it at once: ``trigger_worker``
uses that so an idle slot looks for work now instead of at its next poll.
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
    from kickflow.cli.worker import open_worker_store
    from kickflow.config import get_settings
    from kickflow.worker import Worker, logs

    logs.configure()
    settings = get_settings()
    store, inputs = open_worker_store(settings)
    worker = Worker(store, settings, concurrency=1, inputs=inputs)
    signal.signal(signal.SIGUSR1, lambda *_: worker.wake())
    _stop_when_orphaned(os.getppid())
    try:
        return worker.run()
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
