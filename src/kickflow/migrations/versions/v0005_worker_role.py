"""API tokens may have the ``worker`` role (a worker talking to the service over HTTP: it may
call the worker API only, and claims the jobs of every organisation).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = "ck_api_tokens_role"
WITH_WORKER = "role IN ('admin', 'member', 'viewer', 'operator', 'worker')"
WITHOUT_WORKER = "role IN ('admin', 'member', 'viewer', 'operator')"


def _replace_check(condition: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table (the check is reflected).
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_constraint(NAME, type_="check")
        batch_op.create_check_constraint(NAME, condition)


def upgrade() -> None:
    _replace_check(WITH_WORKER)


def downgrade() -> None:
    # No older role may stand in for a worker token (each would let it call the user API):
    # worker tokens are deleted, so workers holding one are refused (401) until re-issued.
    op.execute("DELETE FROM api_tokens WHERE role = 'worker'")
    _replace_check(WITHOUT_WORKER)
