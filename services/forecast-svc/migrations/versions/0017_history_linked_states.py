"""each state in the history names when the state it replaced became valid, and each fact when its
current and its first states did, so that GET /v1/pipeline-changes finds an opportunity's two ends
without ordering its states

An opportunity's state at an instant T is the replaced state (prev_*) of its one row with
valid_from > T >= prev_valid_from; its state today, when it changed after T, is its fact with
state_valid_from > T, and it is new since T when created_valid_from > T. Before, each end was the
first or last of its states after T in (valid_from, version) order: a sort and a window over every
state of a top node's quarter (~2 x 10^4), most of that read's time.

Back-filled from the history as it stands (PostgreSQL and SQLite both have window functions and
UPDATE ... FROM).

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.tables import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_STATE = ["owner_id", "status", "stage", "category_override", "amount_cents", "probability"]


def upgrade() -> None:
    op.add_column("opportunity_history", sa.Column("prev_valid_from", UtcDateTime(), nullable=True))
    op.add_column("opportunity_facts", sa.Column("state_valid_from", UtcDateTime(), nullable=True))
    op.add_column("opportunity_facts", sa.Column("created_valid_from", UtcDateTime(), nullable=True))
    op.execute("""
        UPDATE opportunity_history SET prev_valid_from = linked.prev
        FROM (SELECT opportunity_id, valid_from, version,
                     lag(valid_from) OVER (PARTITION BY opportunity_id ORDER BY valid_from, version) AS prev
              FROM opportunity_history) AS linked
        WHERE opportunity_history.prev_status IS NOT NULL
          AND opportunity_history.opportunity_id = linked.opportunity_id
          AND opportunity_history.valid_from = linked.valid_from
          AND opportunity_history.version = linked.version""")
    op.execute("""
        UPDATE opportunity_facts SET
          state_valid_from = (SELECT max(h.valid_from) FROM opportunity_history h
                              WHERE h.opportunity_id = opportunity_facts.id),
          created_valid_from = (SELECT min(h.valid_from) FROM opportunity_history h
                                WHERE h.opportunity_id = opportunity_facts.id AND h.prev_status IS NULL)""")
    # The state at T (prev_*) of the period's states of one currency, index-only (PostgreSQL).
    op.drop_index("ix_history_prev_currency_close_time", "opportunity_history")
    op.create_index("ix_history_prev_currency_close_time", "opportunity_history",
                    ["prev_currency", "prev_close_date", "valid_from"],
                    postgresql_include=["opportunity_id", "version", "prev_valid_from",
                                        *[f"prev_{c}" for c in _STATE]])
    # Today's state of the period's facts of one currency changed after T, index-only (PostgreSQL).
    op.create_index("ix_facts_currency_close_state", "opportunity_facts",
                    ["currency", "close_date", "state_valid_from"],
                    postgresql_include=["id", "created_valid_from", *_STATE])


def downgrade() -> None:
    op.drop_index("ix_facts_currency_close_state", "opportunity_facts")
    op.drop_index("ix_history_prev_currency_close_time", "opportunity_history")
    op.create_index("ix_history_prev_currency_close_time", "opportunity_history",
                    ["prev_currency", "prev_close_date", "valid_from"],
                    postgresql_include=["opportunity_id", "version", *[f"prev_{c}" for c in _STATE]])
    op.drop_column("opportunity_facts", "created_valid_from")
    op.drop_column("opportunity_facts", "state_valid_from")
    op.drop_column("opportunity_history", "prev_valid_from")
