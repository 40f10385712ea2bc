"""QC workers: claim jobs, run the pipeline (initializing → downloading → analyzing →
reporting) under a fenced lease, heartbeat from the progress path, reap stuck jobs.

    from kickflow.worker import Worker
    worker = Worker(store, settings, concurrency=2)   # engine=... to inject a QC function
    worker.start(); ...; worker.stop()                # or worker.run() with signal handling
"""

from __future__ import annotations

from kickflow.worker.runner import Worker

__all__ = ["Worker"]
