"""the Idempotency-Key table: a retried POST gets its first answer back

Revision ID: 0009
Revises: 0008
"""
from alembic import op

from kam_shared.migrations import create_idempotency_table, drop_idempotency_table

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table(op)


def downgrade() -> None:
    drop_idempotency_table(op)
