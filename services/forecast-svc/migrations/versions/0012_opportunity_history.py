"""append-only opportunity state history (what changed since; forecast history) and its horizon

Back-filled from the facts: each opportunity's current state, valid from its last change. The
states before that are unknown for an opportunity changed more than once, so the history's
horizon starts at the latest such change (null when every fact is at its first version).

Revision ID: 0012
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.tables import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_STATE = [("owner_id", sa.Uuid), ("stage", sa.Integer), ("probability", sa.Integer),
          ("amount_cents", sa.BigInteger), ("currency", sa.String(3)), ("close_date", sa.Date),
          ("status", sa.String(10)), ("category_override", sa.String(10)), ("confirmed", sa.Boolean)]


def upgrade() -> None:
    op.create_table(
        "opportunity_history",
        sa.Column("opportunity_id", sa.Uuid, primary_key=True),
        sa.Column("valid_from", UtcDateTime(), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        *[sa.Column(name, kind, nullable=name == "category_override") for name, kind in _STATE],
        *[sa.Column(f"prev_{name}", kind, nullable=True) for name, kind in _STATE],
    )
    op.create_index("ix_history_owner_close_time", "opportunity_history", ["owner_id", "close_date", "valid_from"])
    op.create_index("ix_history_prev_owner_close_time", "opportunity_history",
                    ["prev_owner_id", "prev_close_date", "valid_from"])
    op.create_index("ix_history_time", "opportunity_history", ["valid_from"])
    op.create_table("history_horizon", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("starts_at", UtcDateTime(), nullable=True))
    names = ", ".join(name for name, _ in _STATE)
    op.execute(f"INSERT INTO opportunity_history (opportunity_id, valid_from, version, {names}) "
               f"SELECT id, updated_at, version, {names} FROM opportunity_facts")
    op.execute("INSERT INTO history_horizon (id, starts_at) "
               "SELECT 1, (SELECT max(updated_at) FROM opportunity_facts WHERE version > 1)")


def downgrade() -> None:
    op.drop_table("history_horizon")
    op.drop_index("ix_history_time", table_name="opportunity_history")
    op.drop_index("ix_history_prev_owner_close_time", table_name="opportunity_history")
    op.drop_index("ix_history_owner_close_time", table_name="opportunity_history")
    op.drop_table("opportunity_history")
