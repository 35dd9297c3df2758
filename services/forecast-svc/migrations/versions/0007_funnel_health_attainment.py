"""funnel health (daily stage snapshots, versioned norms) and attainment (quota replica)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stage_snapshots",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("owner_id", sa.Uuid, primary_key=True),
        sa.Column("month", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_stage_snapshots_owner_month", "stage_snapshots", ["owner_id", "month", "day"])
    op.create_table(
        "stage_snapshot_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_by", sa.Uuid, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
    )
    op.create_table(
        "funnel_norms",
        sa.Column("norm_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("node_id", sa.Uuid, nullable=False),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("from_periods", sa.JSON, nullable=True),
        sa.Column("set_by", sa.Uuid, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "funnel_norm_stages",
        sa.Column("norm_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("count_hundredths", sa.BigInteger, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["norm_id", "version"], ["funnel_norms.norm_id", "funnel_norms.version"],
                                name="fk_funnel_norm_stages_norm"),
    )
    # Filled by kam.team.quota_* events from here on; POST /v1/admin/rebuild back-fills earlier quotas.
    op.create_table(
        "quota_replica",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("owner_kind", sa.String(10), nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("responsible_user_id", sa.Uuid, nullable=True),
        sa.Column("period", sa.String(12), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("approved_amount_cents", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("parent_quota_id", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_quota_replica_responsible_period", "quota_replica",
                    ["responsible_user_id", "period_start", "period_end"])


def downgrade() -> None:
    op.drop_table("quota_replica")
    op.drop_table("funnel_norm_stages")
    op.drop_table("funnel_norms")
    op.drop_table("stage_snapshot_days")
    op.drop_table("stage_snapshots")
