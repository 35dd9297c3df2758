"""the audit trail (kam_shared.audit); territory plans, rebalances and the placements they made

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.migrations import create_audit_table, drop_audit_table
from kam_shared.tables import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_table(op)
    op.create_table(
        "territory_plans",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("territory_id", sa.Uuid, sa.ForeignKey("territories.id"), nullable=False, index=True),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("objectives", sa.JSON, nullable=False),
        sa.Column("target_account_ids", sa.JSON, nullable=False),
        sa.Column("coverage", sa.JSON, nullable=False),
        sa.Column("capacity_accounts", sa.Integer, nullable=True),
        sa.Column("quota_id", sa.Uuid, nullable=True),
        sa.Column("quota_amount_cents", sa.BigInteger, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("decided_by", sa.Uuid, nullable=True),
        sa.Column("created_by", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("territory_id", "period", name="uq_territory_plan_period"),
    )
    op.create_table(
        "territory_rebalances",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("moves", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("period", sa.String(12), nullable=True),
        sa.Column("created_by", sa.Uuid, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "territory_placements",
        sa.Column("account_id", sa.Uuid, primary_key=True),
        sa.Column("territory_id", sa.Uuid, sa.ForeignKey("territories.id"), nullable=False, index=True),
        sa.Column("rebalance_id", sa.Uuid, sa.ForeignKey("territory_rebalances.id"), nullable=False),
        sa.Column("placed_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("territory_placements")
    op.drop_table("territory_rebalances")
    op.drop_table("territory_plans")
    drop_audit_table(op)
