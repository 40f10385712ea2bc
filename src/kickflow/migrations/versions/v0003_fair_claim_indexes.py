"""Fair claim: queued jobs per organisation in its own claim order (organisation, priority
descending, run_at, age), replacing the global claim-order index, and each organisation's
``claimed`` events, so the claim can tell which organisation was served least recently.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

QUEUED_ONLY = sa.text("state = 'queued'")
CLAIMED_ONLY = sa.text("kind = 'claimed'")


def upgrade() -> None:
    op.create_index(
        "ix_jobs_org_queued",
        "jobs",
        ["org_id", sa.text("priority DESC"), "run_at", "created_at"],
        postgresql_where=QUEUED_ONLY,
        sqlite_where=QUEUED_ONLY,
    )
    op.drop_index("ix_jobs_queued", table_name="jobs")
    op.create_index(
        "ix_job_events_org_claimed",
        "job_events",
        ["org_id", "id"],
        postgresql_where=CLAIMED_ONLY,
        sqlite_where=CLAIMED_ONLY,
    )


def downgrade() -> None:
    op.drop_index("ix_job_events_org_claimed", table_name="job_events")
    op.create_index(
        "ix_jobs_queued",
        "jobs",
        [sa.text("priority DESC"), "run_at", "created_at"],
        postgresql_where=QUEUED_ONLY,
        sqlite_where=QUEUED_ONLY,
    )
    op.drop_index("ix_jobs_org_queued", table_name="jobs")
