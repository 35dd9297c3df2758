"""Tables of the health slice: each account's stored health (parts and facts as computed) and the
admin's health model. The score and band themselves are also on `accounts` (health_score,
health_band), indexed for the at-risk list."""
from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..accounts.models import accounts
from ..common.tables import metadata

account_health = Table(
    "account_health", metadata,
    Column("account_id", Uuid, ForeignKey(accounts.c.id), primary_key=True),
    Column("score", Integer, nullable=False),
    Column("band", String(10), nullable=False),
    Column("parts", JSON, nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("version", Integer, nullable=False),  # +1 each time the stored score changes: the event sequence
    Column("computed_at", UtcDateTime(), nullable=False),
    Column("cause", String(100), nullable=False),
    Index("ix_account_health_computed_at", "computed_at"),
)

# One row (id 1): the weights, versioned for ETag / If-Match.
health_model = Table(
    "health_model", metadata,
    Column("id", Integer, primary_key=True),
    Column("weights", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_by", Uuid, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=True),
)
