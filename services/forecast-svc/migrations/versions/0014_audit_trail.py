"""the audit trail: an append-only copy of every event (kam_shared.audit), kept past the outbox purge

Revision ID: 0014
Revises: 0010
"""
from alembic import op

from kam_shared.migrations import create_audit_table, drop_audit_table

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_table(op)


def downgrade() -> None:
    drop_audit_table(op)
