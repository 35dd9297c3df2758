"""fiscal calendar, quotas with history, opportunity and account replicas

Revision ID: 0004
Revises: 0003
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

from kam_shared.tables import BigId, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    calendar = op.create_table(
        "fiscal_calendar",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fiscal_year_start_month", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.bulk_insert(calendar, [{"id": 1, "fiscal_year_start_month": 1, "version": 1,
                               "updated_at": dt.datetime.now(dt.timezone.utc)}])
    op.create_table(
        "quotas",
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
        sa.Column("parent_quota_id", sa.Uuid, sa.ForeignKey("quotas.id"), nullable=True),
        sa.Column("allocation_method", sa.String(20), nullable=True),
        sa.Column("created_by", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("owner_kind", "owner_id", "period", name="uq_quota_owner_period"),
    )
    op.create_index("ix_quotas_responsible_user_id", "quotas", ["responsible_user_id"])
    op.create_index("ix_quotas_parent_quota_id", "quotas", ["parent_quota_id"])
    op.create_table(
        "quota_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("quota_id", sa.Uuid, sa.ForeignKey("quotas.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("approved_amount_cents", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("actor_id", sa.Uuid, nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_quota_history_quota", "quota_history", ["quota_id", "id"])
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
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_opportunity_facts_account_id", "opportunity_facts", ["account_id"])
    op.create_index("ix_opportunity_facts_owner", "opportunity_facts", ["owner_id", "status", "close_date"])
    op.create_table(
        "account_facts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("employees", sa.Integer, nullable=True),
        sa.Column("merged_into", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_account_facts_owner_id", "account_facts", ["owner_id"])


def downgrade() -> None:
    op.drop_table("account_facts")
    op.drop_table("opportunity_facts")
    op.drop_table("quota_history")
    op.drop_table("quotas")
    op.drop_table("fiscal_calendar")
