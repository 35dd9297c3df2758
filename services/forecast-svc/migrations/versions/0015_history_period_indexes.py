"""the state history indexed by currency, close date and time, for each end of a change

A top node's subtree is every owner: the owner-leading indexes of 0012 then read every owner's
rows one by one, and the time index every state since `since`, in the period or not. These read
only the period's states of one currency after the instant (GET /v1/pipeline-changes' touched
opportunities; GET /v1/forecast-history's deltas by day), the new state's and the replaced one's.

Revision ID: 0015
Revises: 0014
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_history_currency_close_time", "opportunity_history", ["currency", "close_date", "valid_from"])
    op.create_index("ix_history_prev_currency_close_time", "opportunity_history",
                    ["prev_currency", "prev_close_date", "valid_from"])


def downgrade() -> None:
    op.drop_index("ix_history_prev_currency_close_time", "opportunity_history")
    op.drop_index("ix_history_currency_close_time", "opportunity_history")
