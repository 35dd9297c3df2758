"""index the inbox by event id (batch look-ups must not depend on table statistics)

Revision ID: 0006
Revises: 0005
"""
from alembic import op

from kam_shared.migrations import add_inbox_event_index, drop_inbox_event_index

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_inbox_event_index(op)


def downgrade() -> None:
    drop_inbox_event_index(op)
