"""Google Sheets exports: per organisation and project, the spreadsheet its QC results go to,
the vendor and series title of its rows, the Google connection used, whether results go out on
completion, and that export's cursor in the finished-jobs feed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sheet_exports",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("spreadsheet_id", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("series_title", sa.String(length=200), nullable=False),
        sa.Column("connection_id", sa.String(length=36), nullable=False),
        sa.Column("on_completion", sa.Boolean(), nullable=False),
        sa.Column("cursor_at", sa.Double(), nullable=True),
        sa.Column("cursor_job_id", sa.String(length=36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_export_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("org_id", "project"),
    )


def downgrade() -> None:
    op.drop_table("sheet_exports")
