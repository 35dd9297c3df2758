"""opportunity facts, the user hierarchy replica and the plumbing tables

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.migrations import create_plumbing_tables, drop_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables(op, user_replica=True)
    op.create_table(
        "opportunity_facts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("close_date", sa.Date, nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_facts_owner_close", "opportunity_facts", ["owner_id", "close_date"])


def downgrade() -> None:
    op.drop_table("opportunity_facts")
    drop_plumbing_tables(op)
