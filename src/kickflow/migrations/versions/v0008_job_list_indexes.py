"""Indexes for the jobs list: each filter the dashboard offers (state, verdict, project,
profile) in an index that ends in (created_at, id), so a filtered page, newest first, is read
in index order and stops after one page, however many jobs the organisation has; and the
list's own order with the file name, so a text search scans an index, not the table. Both
replace a narrower index they extend: (org_id, state) and (org_id, created_at, id).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FILTERED = {
    "ix_jobs_org_state_created": "state",
    "ix_jobs_org_verdict_created": "verdict",
    "ix_jobs_org_project_created": "project",
    "ix_jobs_org_profile_created": "profile",
}


def upgrade() -> None:
    for name, column in FILTERED.items():
        op.create_index(name, "jobs", ["org_id", column, "created_at", "id"])
    op.create_index("ix_jobs_org_created_name", "jobs", ["org_id", "created_at", "id", "file_name"])
    op.drop_index("ix_jobs_org_state", table_name="jobs")
    op.drop_index("ix_jobs_org_created", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_org_created", "jobs", ["org_id", "created_at", "id"])
    op.create_index("ix_jobs_org_state", "jobs", ["org_id", "state"])
    op.drop_index("ix_jobs_org_created_name", table_name="jobs")
    for name in FILTERED:
        op.drop_index(name, table_name="jobs")
