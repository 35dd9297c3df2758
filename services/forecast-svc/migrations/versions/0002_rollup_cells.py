"""pre-aggregated roll-up cells, back-filled from the opportunity facts

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_cells",
        sa.Column("owner_id", sa.Uuid, primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("status", sa.String(10), primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("weighted_cents_x100", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rollup_cells_month", "rollup_cells", ["month", "owner_id"])
    month = ("date_trunc('month', close_date)::date" if op.get_bind().dialect.name == "postgresql"
             else "date(close_date, 'start of month')")
    op.execute(f"""
        INSERT INTO rollup_cells (owner_id, month, currency, status, stage, count, amount_cents, weighted_cents_x100)
        SELECT owner_id, {month}, currency, status, stage, count(*), sum(amount_cents), sum(amount_cents * probability)
        FROM opportunity_facts GROUP BY owner_id, {month}, currency, status, stage""")


def downgrade() -> None:
    op.drop_table("rollup_cells")
