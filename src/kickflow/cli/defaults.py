"""Defaults the CLI shows in ``--help``, written here so that ``--help`` imports no store.

They must equal the store's own (a unit test compares them): the local organisation and the
profile a job without one is judged by.
"""

LOCAL_ORG = "local"  # kickflow.jobs.LOCAL_ORG
DEFAULT_PROFILE = "default"  # kickflow.jobs.DEFAULT_PROFILE
