"""Google connections: one per user (or one organisation-level) per organisation, with the OAuth
refresh and access tokens encrypted at rest (SecretBox tokens, never plaintext).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "google_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=False),
        sa.Column("access_token_enc", sa.Text(), nullable=True),
        sa.Column("access_expires_at", sa.Double(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "status IN ('ok', 'refresh_failed')", name="ck_google_connections_status"
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "user_id", name="uq_google_connections_org_user"),
    )
    with op.batch_alter_table("google_connections") as batch_op:
        batch_op.create_index("ix_google_connections_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("google_connections") as batch_op:
        batch_op.drop_index("ix_google_connections_status")
    op.drop_table("google_connections")
