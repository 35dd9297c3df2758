"""incentive plans, participants, expected-cost analyses, payouts with revisions

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.tables import BigId, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incentive_plans",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("fiscal_year", sa.String(6), nullable=False),
        sa.Column("payout_frequency", sa.String(10), nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("cap_cents", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("approved_by", sa.Uuid, nullable=True),
        sa.Column("approved_at", UtcDateTime(), nullable=True),
        sa.Column("created_by", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "incentive_plan_participants",
        sa.Column("plan_id", sa.Uuid, sa.ForeignKey("incentive_plans.id"), primary_key=True),
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_index("ix_incentive_plan_participants_user_id", "incentive_plan_participants", ["user_id"])
    op.create_table(
        "incentive_cost_analyses",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Uuid, sa.ForeignKey("incentive_plans.id"), nullable=False),
        sa.Column("plan_version", sa.Integer, nullable=False),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("committed_cents", sa.BigInteger, nullable=False),
        sa.Column("expected_cents", sa.BigInteger, nullable=False),
        sa.Column("best_case_cents", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("analysed_by", sa.Uuid, nullable=True),
        sa.Column("analysed_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_incentive_cost_analyses_plan_id", "incentive_cost_analyses", ["plan_id"])
    op.create_table(
        "payouts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("plan_id", sa.Uuid, sa.ForeignKey("incentive_plans.id"), nullable=False),
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("quota_cents", sa.BigInteger, nullable=False),
        sa.Column("attained_cents", sa.BigInteger, nullable=False),
        sa.Column("attainment_percent", sa.String(20), nullable=False),
        sa.Column("gross_cents", sa.BigInteger, nullable=False),
        sa.Column("adjustment_cents", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("paid_cents", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("plan_id", "user_id", "period", name="uq_payout_plan_user_period"),
    )
    op.create_index("ix_payouts_user_id", "payouts", ["user_id"])
    op.create_table(
        "payout_revisions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("payout_id", sa.Uuid, sa.ForeignKey("payouts.id"), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("quota_cents", sa.BigInteger, nullable=False),
        sa.Column("attained_cents", sa.BigInteger, nullable=False),
        sa.Column("gross_cents", sa.BigInteger, nullable=False),
        sa.Column("adjustment_cents", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("paid_cents", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("actor_id", sa.Uuid, nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_payout_revisions_payout", "payout_revisions", ["payout_id", "id"])


def downgrade() -> None:
    op.drop_table("payout_revisions")
    op.drop_table("payouts")
    op.drop_table("incentive_cost_analyses")
    op.drop_table("incentive_plan_participants")
    op.drop_table("incentive_plans")
