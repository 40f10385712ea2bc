"""Partial indexes: queued jobs in claim order (priority descending, run_at, age), and
running jobs by lease expiry for the reaper.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

QUEUED_ONLY = sa.text("state = 'queued'")
RUNNING_ONLY = sa.text("state = 'running'")


def upgrade() -> None:
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.drop_index("ix_jobs_running_lease", table_name="jobs")
    op.create_index(
        "ix_jobs_queued",
        "jobs",
        [sa.text("priority DESC"), "run_at", "created_at"],
        postgresql_where=QUEUED_ONLY,
        sqlite_where=QUEUED_ONLY,
    )
    op.create_index(
        "ix_jobs_running",
        "jobs",
        ["lease_expires_at"],
        postgresql_where=RUNNING_ONLY,
        sqlite_where=RUNNING_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_running", table_name="jobs")
    op.drop_index("ix_jobs_queued", table_name="jobs")
    op.create_index("ix_jobs_running_lease", "jobs", ["state", "lease_expires_at"])
    op.create_index("ix_jobs_claim", "jobs", ["state", "priority", "run_at", "created_at"])
