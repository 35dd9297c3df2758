"""team-svc tables of the slice: the fiscal calendar and quotas."""
from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, Uuid

from kam_shared.tables import BigId, UtcDateTime

from ..common.models import metadata

fiscal_calendar = Table(
    "fiscal_calendar", metadata,
    Column("id", Integer, primary_key=True),
    Column("fiscal_year_start_month", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


quotas = Table(
    "quotas", metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_kind", String(10), nullable=False),
    Column("owner_id", Uuid, nullable=False),
    Column("responsible_user_id", Uuid, nullable=True, index=True),
    Column("period", String(12), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("approved_amount_cents", BigInteger, nullable=True),
    Column("status", String(12), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("parent_quota_id", Uuid, ForeignKey("quotas.id"), nullable=True, index=True),
    Column("allocation_method", String(20), nullable=True),
    Column("created_by", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("owner_kind", "owner_id", "period", name="uq_quota_owner_period"),
)


quota_history = Table(
    "quota_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("quota_id", Uuid, ForeignKey("quotas.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("approved_amount_cents", BigInteger, nullable=True),
    Column("reason", Text, nullable=True),
    Column("actor_id", Uuid, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_quota_history_quota", "quota_id", "id"),
)
