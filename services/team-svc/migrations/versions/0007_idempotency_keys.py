"""the Idempotency-Key table: a retried POST gets its first answer back

Revision ID: 0007
Revises: 0006
"""
from alembic import op

from kam_shared.migrations import create_idempotency_table, drop_idempotency_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table(op)


def downgrade() -> None:
    drop_idempotency_table(op)
