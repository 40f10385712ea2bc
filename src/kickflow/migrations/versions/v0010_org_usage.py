"""Transcription usage: seconds of audio sent to the provider, per organisation and UTC day,
so KICKFLOW_TRANSCRIPTION_ORG_DAILY_MINUTES can cap what one organisation sends in a day.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_usage",
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("transcription_seconds", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("org_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("org_usage")
