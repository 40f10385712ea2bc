"""API tokens may have the ``operator`` role (the service's own operators: above ``admin``,
may act on every organisation where a route offers it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NAME = "ck_api_tokens_role"
WITH_OPERATOR = "role IN ('admin', 'member', 'viewer', 'operator')"
WITHOUT_OPERATOR = "role IN ('admin', 'member', 'viewer')"


def _replace_check(condition: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table (the check is reflected).
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_constraint(NAME, type_="check")
        batch_op.create_check_constraint(NAME, condition)


def upgrade() -> None:
    _replace_check(WITH_OPERATOR)


def downgrade() -> None:
    # Operator tokens cannot be kept under the old constraint: they become admins.
    op.execute("UPDATE api_tokens SET role = 'admin' WHERE role = 'operator'")
    _replace_check(WITHOUT_OPERATOR)
