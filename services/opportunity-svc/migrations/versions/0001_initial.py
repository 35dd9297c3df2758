"""opportunities, stage history, account and user replicas, plumbing tables

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.migrations import create_plumbing_tables, drop_plumbing_tables
from kam_shared.tables import BigId

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables(op, user_replica=True)
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("close_date", sa.Date, nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("close_reason", sa.Text, nullable=True),
        sa.Column("lost_to_competitor", sa.String(200), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_opportunities_account_id", "opportunities", ["account_id"])
    op.create_index("ix_opportunities_owner_id", "opportunities", ["owner_id"])
    op.create_table(
        "stage_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("opportunity_id", sa.Uuid, sa.ForeignKey("opportunities.id"), nullable=False),
        sa.Column("from_stage", sa.Integer, nullable=True),
        sa.Column("to_stage", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("changed_by", sa.Uuid, nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stage_history_opportunity", "stage_history", ["opportunity_id", "id"])
    op.create_table(
        "account_replica",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stage_history")
    op.drop_table("opportunities")
    op.drop_table("account_replica")
    drop_plumbing_tables(op)
