"""Tables of the job store (SQLAlchemy Core). The Alembic migrations create exactly these.

Times are seconds since the Unix epoch as ``DOUBLE`` and always come from the database clock
(see :mod:`kickflow.jobs.dbtime`), never from a worker's clock.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Epoch = sa.Double

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("max_running", sa.Integer, nullable=True),  # NULL = settings.org_max_running
    sa.Column("created_at", Epoch, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("last_used_at", Epoch, nullable=True),
    sa.Column("revoked_at", Epoch, nullable=True),
    sa.CheckConstraint(
        "role IN ('admin', 'member', 'viewer', 'operator', 'worker')", name="ck_api_tokens_role"
    ),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("project", sa.String(200), nullable=True),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("file_size", sa.BigInteger, nullable=True),
    sa.Column("source_type", sa.String(32), nullable=False),
    sa.Column("source_ref", sa.Text, nullable=False),
    sa.Column("profile", sa.String(100), nullable=False),
    # A custom (organisation) profile's TOML as it was when the job was submitted; None for a
    # built-in profile. The worker judges against this, so later edits never change a job.
    sa.Column("profile_source", sa.Text, nullable=True),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("phase", sa.String(32), nullable=True),
    sa.Column("progress", sa.Double, nullable=False, server_default="0"),
    sa.Column("progress_at", Epoch, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("lease_losses", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_at", Epoch, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_token", sa.String(32), nullable=True),
    sa.Column("lease_expires_at", Epoch, nullable=True),
    sa.Column("worker_id", sa.String(200), nullable=True),
    sa.Column("heartbeat_at", Epoch, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pause_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("error_code", sa.String(64), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("verdict", sa.String(16), nullable=True),
    sa.Column("report", sa.JSON, nullable=True),
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("started_at", Epoch, nullable=True),
    sa.Column("finished_at", Epoch, nullable=True),
    sa.Column("updated_at", Epoch, nullable=False),
    # Subtitle files delivered with the media and per-job options (JobInputs.to_json; NULL:
    # none), migration 0009. Never filtered on: a column of the row, read with it.
    sa.Column("inputs", sa.JSON, nullable=True),
    sa.CheckConstraint(
        "state IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'paused')",
        name="ck_jobs_state",
    ),
    sa.UniqueConstraint("org_id", "idempotency_key", name="uq_jobs_org_idempotency_key"),
    # The jobs list (migration 0008): its order with the file name for the text search, and
    # each filter followed by the list's order.
    sa.Index("ix_jobs_org_created_name", "org_id", "created_at", "id", "file_name"),
    sa.Index("ix_jobs_org_state_created", "org_id", "state", "created_at", "id"),
    sa.Index("ix_jobs_org_verdict_created", "org_id", "verdict", "created_at", "id"),
    sa.Index("ix_jobs_org_project_created", "org_id", "project", "created_at", "id"),
    sa.Index("ix_jobs_org_profile_created", "org_id", "profile", "created_at", "id"),
    sa.Index("ix_jobs_org_updated", "org_id", "updated_at"),
)

# The claim reads, for each organisation, the first few of its queued jobs in its own order
# (priority descending, run_at, age): a partial index in exactly that order makes that an index
# probe per organisation, however deep any organisation's queue is. Queries must spell the
# state as a literal (state_is("queued")), not a bound parameter, for SQLite to use them.
QUEUED_ONLY = sa.text("state = 'queued'")
sa.Index(
    "ix_jobs_org_queued",
    jobs.c.org_id,
    jobs.c.priority.desc(),
    jobs.c.run_at,
    jobs.c.created_at,
    postgresql_where=QUEUED_ONLY,
    sqlite_where=QUEUED_ONLY,
)

RUNNING_ONLY = sa.text("state = 'running'")
sa.Index(
    "ix_jobs_running",
    jobs.c.lease_expires_at,
    postgresql_where=RUNNING_ONLY,
    sqlite_where=RUNNING_ONLY,
)


def state_is(state: str, table: sa.FromClause = jobs) -> sa.ColumnElement[bool]:
    """``jobs.state = '<state>'`` (or an alias's) with the state inlined, so partial indexes
    apply."""
    allowed = {"queued", "running", "completed", "failed", "cancelled", "paused"}
    if state not in allowed:  # never user data: only the state machine's own names
        raise ValueError(f"unknown job state {state!r}")
    column: sa.ColumnElement[str] = table.c.state
    return column == sa.literal_column(f"'{state}'")


job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("org_id", sa.String(36), nullable=False),
    sa.Column("at", Epoch, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("worker_id", sa.String(200), nullable=True),
    sa.Column("code", sa.String(64), nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Index("ix_job_events_job", "job_id", "id"),
    sa.Index("ix_job_events_org", "org_id", "id"),
    sa.Index("ix_job_events_kind_at", "kind", "at"),
)

# When each organisation was last served: the claim reads max(id) of its ``claimed`` events.
CLAIMED_ONLY = sa.text("kind = 'claimed'")
sa.Index(
    "ix_job_events_org_claimed",
    job_events.c.org_id,
    job_events.c.id,
    postgresql_where=CLAIMED_ONLY,
    sqlite_where=CLAIMED_ONLY,
)


def kind_is_claimed(table: sa.FromClause = job_events) -> sa.ColumnElement[bool]:
    """``job_events.kind = 'claimed'`` with the kind inlined, so the partial index applies."""
    column: sa.ColumnElement[str] = table.c.kind
    return column == sa.literal_column("'claimed'")


workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # running | stopping | stopped
    sa.Column("started_at", Epoch, nullable=False),
    sa.Column("heartbeat_at", Epoch, nullable=False),
    sa.Column("stopped_at", Epoch, nullable=True),
)

flags = sa.Table(
    "flags",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", Epoch, nullable=False),
)

# --- people: dashboard users, their organisations, sessions and invitations (0006) -------------

MEMBER_ROLES_CHECK = "role IN ('viewer', 'member', 'admin', 'operator')"

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # stored lower-cased
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, encoded
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("password_changed_at", Epoch, nullable=False),
    sa.Column("disabled_at", Epoch, nullable=True),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column(
        "user_id",
        sa.String(36),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", Epoch, nullable=False),
    sa.CheckConstraint(MEMBER_ROLES_CHECK, name="ck_memberships_role"),
    sa.Index("ix_memberships_org", "org_id"),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("last_seen_at", Epoch, nullable=False),
    sa.Column("expires_at", Epoch, nullable=False),
    sa.Column("revoked_at", Epoch, nullable=True),
    sa.Column("user_agent", sa.String(300), nullable=True),
    sa.Column("address", sa.String(64), nullable=True),
    sa.Index("ix_web_sessions_user", "user_id"),
)

invitations = sa.Table(
    "invitations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("invited_by", sa.String(36), nullable=True),  # a user id (None: the CLI)
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("expires_at", Epoch, nullable=False),
    sa.Column("accepted_at", Epoch, nullable=True),
    sa.Column("accepted_by", sa.String(36), nullable=True),
    sa.Column("revoked_at", Epoch, nullable=True),
    sa.CheckConstraint(MEMBER_ROLES_CHECK, name="ck_invitations_role"),
    sa.Index("ix_invitations_org", "org_id"),
)

# Failed sign-ins, for rate limiting across API nodes; keys are "address:<ip>" or
# "account:<email>". Old rows are pruned when new ones are written.
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("at", Epoch, nullable=False),
    sa.Index("ix_sign_in_failures_key_at", "key", "at"),
)

# --- organisation profiles (0007) ---------------------------------------------------------------

org_profiles = sa.Table(
    "org_profiles",
    metadata,
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),  # the TOML as uploaded
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("updated_at", Epoch, nullable=False),
    sa.Column("updated_by", sa.String(36), nullable=True),  # a user id
)

# --- transcription usage (0010) -----------------------------------------------------------------

# Seconds of audio sent to the transcription provider, per organisation and UTC day (ISO date
# text), for KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES.
org_usage = sa.Table(
    "org_usage",
    metadata,
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("transcription_seconds", sa.Double, nullable=False),
)

# --- Google connections (0011) ------------------------------------------------------------------

# One link to a Google account per (organisation, user); user_id "" is the organisation-level
# connection an admin made. The tokens are SecretBox tokens (encrypted), never plaintext;
# scopes are space-separated as Google spells them.
google_connections = sa.Table(
    "google_connections",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("refresh_token_enc", sa.Text, nullable=False),
    sa.Column("access_token_enc", sa.Text, nullable=True),
    sa.Column("access_expires_at", Epoch, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("updated_at", Epoch, nullable=False),
    sa.CheckConstraint("status IN ('ok', 'refresh_failed')", name="ck_google_connections_status"),
    sa.UniqueConstraint("org_id", "user_id", name="uq_google_connections_org_user"),
    sa.Index("ix_google_connections_status", "status"),
)

# --- webhooks (0012) -----------------------------------------------------------------------------

# An organisation's webhook receivers. ``events`` is a comma-separated subset of the event
# names; ``secret_enc`` the signing secret as a SecretBox token (never plaintext). The cursor
# (cursor_finished_at, cursor_job_id) is where this endpoint is in the finished-jobs feed;
# ``failures``/``retry_at`` back off the whole endpoint while it is failing, and
# ``busy_token``/``busy_until`` is the claim that keeps its sends one at a time across nodes.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("description", sa.String(200), nullable=True),
    sa.Column("events", sa.String(200), nullable=False),
    sa.Column("secret_enc", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("cursor_finished_at", Epoch, nullable=False),
    sa.Column("cursor_job_id", sa.String(36), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_at", Epoch, nullable=True),
    sa.Column("busy_token", sa.String(32), nullable=True),
    sa.Column("busy_until", Epoch, nullable=True),
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("updated_at", Epoch, nullable=False),
    sa.Index("ix_webhook_endpoints_org", "org_id", "created_at"),
)

# One event for one endpoint (the outbox): created from the feed, sent by the dispatcher.
# ``payload`` is the exact JSON body (the same bytes on every attempt; only the signature's
# time changes). job_id is NULL for a test ping, so pings never collide on the unique key.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), nullable=False),
    sa.Column(
        "endpoint_id",
        sa.String(36),
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("job_id", sa.String(36), nullable=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("due_since", Epoch, nullable=False),
    sa.Column("first_attempt_at", Epoch, nullable=True),
    sa.Column("next_attempt_at", Epoch, nullable=False),
    sa.Column("last_attempt_at", Epoch, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("claim_token", sa.String(32), nullable=True),
    sa.Column("delivered_at", Epoch, nullable=True),
    sa.Column("created_at", Epoch, nullable=False),
    sa.CheckConstraint(
        "status IN ('pending', 'sending', 'delivered', 'failed')",
        name="ck_webhook_deliveries_status",
    ),
    sa.UniqueConstraint("endpoint_id", "job_id", "event", name="uq_webhook_deliveries_event"),
    sa.Index("ix_webhook_deliveries_due", "status", "endpoint_id", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_org", "org_id", "created_at"),
)

# The finished-jobs feed (kickflow.jobs.finished) reads each organisation's jobs by finish.
sa.Index("ix_jobs_org_finished", jobs.c.org_id, jobs.c.finished_at, jobs.c.id)

# --- Google Sheets exports (0013) ---------------------------------------------------------------

# Per (organisation, project): where its QC results go and the export's cursor in the
# finished-jobs feed (cursor_at, cursor_job_id: the last finished job it handled).
sheet_exports = sa.Table(
    "sheet_exports",
    metadata,
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), primary_key=True),
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("spreadsheet_id", sa.String(200), nullable=False),
    sa.Column("vendor", sa.String(200), nullable=False),
    sa.Column("series_title", sa.String(200), nullable=False),
    sa.Column("connection_id", sa.String(36), nullable=False),  # a google_connections id
    sa.Column("on_completion", sa.Boolean, nullable=False),
    sa.Column("cursor_at", Epoch, nullable=True),
    sa.Column("cursor_job_id", sa.String(36), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_export_at", Epoch, nullable=True),
    sa.Column("created_at", Epoch, nullable=False),
    sa.Column("updated_at", Epoch, nullable=False),
)
