"""team-svc tables of the slice: incentive plans and payouts."""
from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, Uuid

from kam_shared.tables import BigId, UtcDateTime

from ..common.models import metadata

incentive_plans = Table(
    "incentive_plans", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fiscal_year", String(6), nullable=False),
    Column("payout_frequency", String(10), nullable=False),
    # base rate, tiers, accelerators as decimal strings (exact on every backend)
    Column("terms", JSON, nullable=False),
    Column("cap_cents", BigInteger, nullable=True),
    Column("status", String(10), nullable=False),
    Column("approved_by", Uuid, nullable=True),
    Column("approved_at", UtcDateTime(), nullable=True),
    Column("created_by", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


incentive_plan_participants = Table(
    "incentive_plan_participants", metadata,
    Column("plan_id", Uuid, ForeignKey("incentive_plans.id"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id"), primary_key=True, index=True),
)


incentive_cost_analyses = Table(
    "incentive_cost_analyses", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("plan_id", Uuid, ForeignKey("incentive_plans.id"), nullable=False, index=True),
    Column("plan_version", Integer, nullable=False),
    Column("period", String(12), nullable=False),
    Column("committed_cents", BigInteger, nullable=False),
    Column("expected_cents", BigInteger, nullable=False),
    Column("best_case_cents", BigInteger, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("analysed_by", Uuid, nullable=True),
    Column("analysed_at", UtcDateTime(), nullable=False),
)


payouts = Table(
    "payouts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("plan_id", Uuid, ForeignKey("incentive_plans.id"), nullable=False),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("period", String(12), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("quota_cents", BigInteger, nullable=False),
    Column("attained_cents", BigInteger, nullable=False),
    Column("attainment_percent", String(20), nullable=False),
    Column("gross_cents", BigInteger, nullable=False),
    Column("adjustment_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("plan_id", "user_id", "period", name="uq_payout_plan_user_period"),
)


payout_revisions = Table(
    "payout_revisions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("payout_id", Uuid, ForeignKey("payouts.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("quota_cents", BigInteger, nullable=False),
    Column("attained_cents", BigInteger, nullable=False),
    Column("gross_cents", BigInteger, nullable=False),
    Column("adjustment_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("reason", Text, nullable=True),
    Column("actor_id", Uuid, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_payout_revisions_payout", "payout_id", "id"),
)
