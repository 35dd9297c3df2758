"""the state history's period indexes carry each state's version (and the new state's whether it
replaced one), so that GET /v1/pipeline-changes finds each opportunity's two ends from them alone

Each end of a change (its state at `since`, today's) is the first or last state after `since` that
these two indexes return for the opportunity, ordered by (valid_from, version): with the version in
them that order needs no heap fetch, nor a probe of the primary key per opportunity (see
changes/repository.py). `prev_status` (null: the state replaced none) tells a new opportunity.

Revision ID: 0016
Revises: 0015
"""
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


_STATE = ["owner_id", "status", "stage", "category_override", "amount_cents", "probability"]


def _create(include_new: list[str], include_prev: list[str]) -> None:
    # INCLUDE (PostgreSQL): index-only scans; other databases ignore it.
    op.create_index("ix_history_currency_close_time", "opportunity_history", ["currency", "close_date", "valid_from"],
                    postgresql_include=["opportunity_id", *include_new, *_STATE])
    op.create_index("ix_history_prev_currency_close_time", "opportunity_history",
                    ["prev_currency", "prev_close_date", "valid_from"],
                    postgresql_include=["opportunity_id", *include_prev, *[f"prev_{c}" for c in _STATE]])


def _drop() -> None:
    op.drop_index("ix_history_prev_currency_close_time", "opportunity_history")
    op.drop_index("ix_history_currency_close_time", "opportunity_history")


def upgrade() -> None:
    _drop()
    _create(["version", "prev_status"], ["version"])


def downgrade() -> None:
    _drop()
    _create([], [])
