"""The job store contract: one suite that every store must pass, in two groups.

* :class:`TestWorkerContract` (``tests/contract/worker.py``) — the worker side
  (:class:`~kickflow.jobs.WorkerPort`): claim (fair order, caps, global pause, limits),
  heartbeat (lease extension, progress time, cancel/pause in the reply), complete,
  complete_many, fail (backoff, attempts), release, acknowledge_cancel/acknowledge_pause,
  fencing (after expiry a second claimer wins; every write of the first raises LeaseLost and
  is recorded as a ``fenced`` event) and the worker registry.
* :class:`TestUserContract` (``tests/contract/user.py``) — everything else: organisations,
  the global pause, enqueue (defaults, idempotency keys, ``org_max_queued``), reads (lists
  with cursors, history, errors, counts, changes), control, bulk operations, stuck jobs, the
  reaper; and, inherited, accounts and tokens (``tests/contract/accounts.py``: find by name
  or id, duplicate names, authenticate/revoke/last-used/list, the worker role) and what the
  API, health checks and ``/metrics`` read (``tests/contract/service.py``: ``jobs_by_ids``,
  ``active_job_ids``, ``state_counts``/``stuck_count``, ``job_history``,
  ``registered_workers``, ``ping``, ``delete_job``) and organisation profiles with the jobs'
  snapshot of them and the ops page's hourly outcomes (``tests/contract/profiles.py``); and
  the dashboard's people (``tests/contract/people.py``: users, memberships, sessions with
  their lifetime, idle timeout and revocation, one-time invitations, failed sign-ins); and
  the jobs list's filters (``tests/contract/listing.py``: profile, text on the file name,
  creation-time ranges, their combination, pagination, scoping; no reports in a list); and
  the inputs a job carries (``tests/contract/inputs.py``: subtitle files and a source
  timecode, read back, claimed, kept by an idempotent resubmission and a retry); and
  transcription usage (``tests/contract/usage.py``: seconds added up per organisation and
  per UTC day, concurrent adds all counted); and the finished-jobs feed
  (``tests/contract/finished.py``: terminal jobs of one organisation by (finished_at, id),
  strictly after a cursor, reappearing after a retry); and Google connections
  (``tests/contract/google.py``: the upsert on organisation and user that keeps the id, a
  failed refresh and the reconnect that clears it, rotation, every call scoped by organisation);
  and Google Sheets exports (``tests/contract/sheet_exports.py``: one per organisation and
  project, a change keeping the cursor, the cursor's compare-and-set, the on-completion list
  across organisations); and webhooks (``tests/contract/webhooks.py``: scoped endpoints, the
  outbox's cursor compare-and-set and unique events, one claimed send per endpoint with a
  fenced outcome, endpoint backoff, the retry window, redelivery).

``tests/integration/test_store_contract.py`` runs both against the in-memory fake, SQLite and
PostgreSQL.

Running a group against another store
-------------------------------------
Import the group into a test module and define a fixture named ``store`` that yields a
:class:`ContractStore`; pytest collects the imported class there. For the worker protocol
client, from an acceptance test with a real ``kickflow serve``::

    from tests.store_contract import ContractStore, SqlTime
    from tests.store_contract import TestWorkerContract as TestWorkerContract  # collected

    @pytest.fixture
    def store(server: Server, server_settings: Settings) -> Iterator[ContractStore]:
        # server: a running `kickflow serve` (tests/fixtures_server.py) with an empty database;
        # server_settings: the Settings it runs with (its KICKFLOW_* environment).
        jobs = SqlJobStore(server.db_url, server_settings)                 # its database
        token = server.token_for("local", "worker")
        worker = HttpWorkerStore(server.url, token, server_settings)    # under test
        try:
            yield ContractStore(
                settings=server_settings,
                jobs=jobs,
                worker=worker,
                org=jobs.ensure_org(),
                time=SqlTime(jobs.engine, server_settings.stuck_after_seconds),
            )
        finally:
            worker.close()
            jobs.close()

What the fixture must provide:

* ``settings`` — what the store under test runs with: tests read ``lease_seconds``,
  ``retry_base_seconds``/``retry_max_seconds`` (backoff bounds), ``max_attempts`` and
  ``org_max_running``. Use leases of 10 s or more: no test waits for a lease to run out.
* ``jobs`` — a full store on the same data (a :class:`~kickflow.jobs.SqlJobStore` on the
  service's database; tests may call its every method, reaper passes included).
* ``worker`` — the WorkerPort under test: the only object the worker group calls claim,
  heartbeat, the final writes and the registry on.
* ``org`` — an organisation id (``jobs.ensure_org()``), with no running-jobs cap of its own.
* ``time`` — a :class:`TimeControl`. Time is never waited out: ``expire`` puts one job's
  ``lease_expires_at`` a second in the past, ``stall`` its ``progress_at`` beyond
  ``stuck_after``, ``make_due`` its ``run_at`` at now. :class:`SqlTime` does it with an
  ``UPDATE`` through an engine on the database behind the store (the service's, for HTTP);
  :class:`FakeTime` edits the fake's row. Where something happens on its own (the service's
  reaper), tests poll a condition with a deadline (``store.wait_for``), never sleep.
* ``reconfigure`` — only the user group needs it (another ContractStore on the same data
  with some settings changed, e.g. ``org_max_queued``); leave it None otherwise.

Each test expects an empty database (no jobs, workers or flags left by the previous test)
and nobody else claiming jobs from it.

A store with at-least-once delivery may answer an exact retry of an accepted call as accepted
again (the HTTP protocol does, for a lost reply): the suite never repeats an identical final
write; it checks that *other* writes of a finished or taken-over attempt are fenced off.
"""

from __future__ import annotations

from tests.contract.harness import ContractStore, FakeTime, SqlTime, TimeControl, wait_for
from tests.contract.user import TestUserContract
from tests.contract.worker import TestWorkerContract

__all__ = [
    "ContractStore",
    "FakeTime",
    "SqlTime",
    "TestUserContract",
    "TestWorkerContract",
    "TimeControl",
    "wait_for",
]
