"""the state history indexed by currency, close date and time, for each end of a change; the
prediction journeys by close date

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


_STATE = ["owner_id", "status", "stage", "category_override", "amount_cents", "probability"]
_JOURNEY_READ = ["status", "currency", "owner_id", "stage", "stage_entered_at", "amount_cents"]


def upgrade() -> None:
    # INCLUDE (PostgreSQL): what those reads need of each end, so they are index-only scans, not a
    # heap fetch per state scattered over a year of history (other databases ignore it).
    op.create_index("ix_history_currency_close_time", "opportunity_history", ["currency", "close_date", "valid_from"],
                    postgresql_include=["opportunity_id", *_STATE])
    op.create_index("ix_history_prev_currency_close_time", "opportunity_history",
                    ["prev_currency", "prev_close_date", "valid_from"],
                    postgresql_include=["opportunity_id", *[f"prev_{c}" for c in _STATE]])
    # GET /v1/predictions: the period's open pipeline and won amount of a subtree, read from the
    # index alone (the status-leading index fetched ~2x10^4 journeys from the heap at 200k).
    op.create_index("ix_prediction_journeys_close", "prediction_journeys", ["close_date"],
                    postgresql_include=_JOURNEY_READ)


def downgrade() -> None:
    op.drop_index("ix_prediction_journeys_close", "prediction_journeys")
    op.drop_index("ix_history_prev_currency_close_time", "opportunity_history")
    op.drop_index("ix_history_currency_close_time", "opportunity_history")
