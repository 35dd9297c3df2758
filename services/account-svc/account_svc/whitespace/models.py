"""Tables of whitespace (migration 0007): the product families opportunity-svc sells (replica of its
catalogue), the families of each won/open opportunity's lines (the opportunity replica extended), and
what comparable accounts buy per (industry, tier, family), kept current by the replica consumer."""
from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.tables import metadata

# Local copy of opportunity-svc's product catalogue (kam.opportunity.product_created/updated).
product_replica = Table(
    "product_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(40), nullable=False),
    Column("family", String(100), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
)

# One row per won or open opportunity and product family of its lines: the family's line amount.
# Written with the opportunity_replica row it extends (same event, same transaction).
opportunity_families = Table(
    "opportunity_families", metadata,
    Column("opportunity_id", Uuid, primary_key=True),
    Column("family", String(100), primary_key=True),
    Column("account_id", Uuid, nullable=False),
    Column("status", String(10), nullable=False),  # won | open
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Index("ix_opportunity_families_account", "account_id", "family"),
)

# Per (industry, tier, family): how many accounts of that industry and tier bought the family
# (won an opportunity with a line in it) and the median won amount of such an opportunity's
# family lines, per currency (`estimates`: [{currency, median_cents, won_opportunities}]).
comparable_family_stats = Table(
    "comparable_family_stats", metadata,
    Column("industry", String(100), primary_key=True),
    Column("tier", String(20), primary_key=True),
    Column("family", String(100), primary_key=True),
    Column("buyers", Integer, nullable=False),
    Column("estimates", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
