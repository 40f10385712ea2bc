"""Per-job inputs: the subtitle files delivered with a job's media (each a source type and
reference like the main file's, and its delivered name) and a source timecode that overrides
the file's, as one JSON column of the job (``JobInputs.to_json``; NULL: none).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("inputs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("inputs")
