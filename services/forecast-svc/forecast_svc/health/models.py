"""Tables of the funnel-health and attainment slice, on forecast-svc's one MetaData (migration 0007)."""
from sqlalchemy import JSON, BigInteger, Column, Date, ForeignKeyConstraint, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

# Open pipeline per owner, close month, currency and stage as it stood on a day: the history that
# funnel norms are derived from. Taken once a day from the roll-up cells; re-taking a day replaces it.
stage_snapshots = Table(
    "stage_snapshots", metadata,
    Column("day", Date, primary_key=True),
    Column("owner_id", Uuid, primary_key=True),
    Column("month", Date, primary_key=True),  # first day of the close month
    Column("currency", String(3), primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    # A derivation joins a subtree's owners and reads one period's close months and days.
    Index("ix_stage_snapshots_owner_month", "owner_id", "month", "day"),
)

# Which days were snapshotted: a day on which a team had no open pipeline still counts as a day
# (of zero pipeline) in the mean, so "taken" cannot be read off the snapshot rows themselves.
stage_snapshot_days = Table(
    "stage_snapshot_days", metadata,
    Column("day", Date, primary_key=True),
    Column("taken_at", UtcDateTime(), nullable=False),
    Column("taken_by", Uuid, nullable=True),  # null: the daily background task
    Column("rows", Integer, nullable=False),
)

# Every version of every funnel norm; the newest version of a norm_id is the one in force.
# norm_id is derived from (node, period dates, currency), so FY2026-Q1 and 2026-Q2 with an April
# fiscal year are the same norm.
funnel_norms = Table(
    "funnel_norms", metadata,
    Column("norm_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("node_id", Uuid, nullable=False),
    Column("period", String(12), nullable=False),  # the label it was set under
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),  # exclusive
    Column("currency", String(3), nullable=False),
    Column("source", String(10), nullable=False),  # manual | derived
    Column("from_periods", JSON, nullable=True),  # derived: [{"period", "snapshot_days"}]
    Column("set_by", Uuid, nullable=False),
    Column("set_at", UtcDateTime(), nullable=False),
)

funnel_norm_stages = Table(
    "funnel_norm_stages", metadata,
    Column("norm_id", Uuid, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("count_hundredths", BigInteger, nullable=False),  # derived norms are averages: 2.25 → 225
    Column("amount_cents", BigInteger, nullable=False),
    ForeignKeyConstraint(["norm_id", "version"], ["funnel_norms.norm_id", "funnel_norms.version"],
                         name="fk_funnel_norm_stages_norm"),
)

# Replica of team-svc's quotas, fed by kam.team.quota_* events (version-guarded) and rebuildable
# from GET /v1/quotas. Amounts in cents; approved_amount is the last approved revision's target.
quota_replica = Table(
    "quota_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_kind", String(10), nullable=False),  # user | org_unit
    Column("owner_id", Uuid, nullable=False),
    Column("responsible_user_id", Uuid, nullable=True),
    Column("period", String(12), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("approved_amount_cents", BigInteger, nullable=True),
    Column("status", String(12), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("parent_quota_id", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_quota_replica_responsible_period", "responsible_user_id", "period_start", "period_end"),
)
