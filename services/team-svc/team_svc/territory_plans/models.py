"""team-svc tables of the slice: territory plans, rebalances, and where rebalancing placed accounts."""
from sqlalchemy import JSON, BigInteger, Column, Date, ForeignKey, Integer, String, Table, Text, UniqueConstraint, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

territory_plans = Table(
    "territory_plans", metadata,
    Column("id", Uuid, primary_key=True),
    Column("territory_id", Uuid, ForeignKey("territories.id"), nullable=False, index=True),
    Column("period", String(12), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("status", String(12), nullable=False),
    Column("objectives", JSON, nullable=False),
    Column("target_account_ids", JSON, nullable=False),
    Column("coverage", JSON, nullable=False),
    Column("capacity_accounts", Integer, nullable=True),
    Column("quota_id", Uuid, nullable=True),
    Column("quota_amount_cents", BigInteger, nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("decided_by", Uuid, nullable=True),
    Column("created_by", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("territory_id", "period", name="uq_territory_plan_period"),
)

# One recorded change per rebalance: the moves as applied.
territory_rebalances = Table(
    "territory_rebalances", metadata,
    Column("id", Uuid, primary_key=True),
    Column("moves", JSON, nullable=False),
    Column("reason", Text, nullable=True),
    Column("period", String(12), nullable=True),
    Column("created_by", Uuid, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Where a rebalance put an account: it wins over the territory rules in the capacity view.
territory_placements = Table(
    "territory_placements", metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("territory_id", Uuid, ForeignKey("territories.id"), nullable=False, index=True),
    Column("rebalance_id", Uuid, ForeignKey("territory_rebalances.id"), nullable=False),
    Column("placed_at", UtcDateTime(), nullable=False),
)
