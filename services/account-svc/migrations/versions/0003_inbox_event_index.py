"""index the inbox by event id (batch look-ups must not depend on table statistics)

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from kam_shared.migrations import add_inbox_event_index, drop_inbox_event_index

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_inbox_event_index(op)


def downgrade() -> None:
    drop_inbox_event_index(op)
