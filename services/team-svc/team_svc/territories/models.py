"""team-svc tables of the slice: territories, their rules, the rule book's revision."""
from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Integer, String, Table, Text, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import PathText, metadata

territories = Table(
    "territories", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("parent_id", Uuid, ForeignKey("territories.id"), nullable=True, index=True),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("org_unit_id", Uuid, ForeignKey("org_units.id"), nullable=True),
    Column("description", Text, nullable=True),
    Column("path", PathText, nullable=False, index=True),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


territory_rules = Table(
    "territory_rules", metadata,
    Column("id", Uuid, primary_key=True),
    Column("territory_id", Uuid, ForeignKey("territories.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("priority", Integer, nullable=False, index=True),
    Column("regions", JSON, nullable=False),
    Column("industries", JSON, nullable=False),
    Column("size_bands", JSON, nullable=False),
    Column("account_ids", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)


# One row: bumped in the transaction of every territory/rule change, so each replica of
# team-svc knows when its in-memory rule book is stale (one primary-key read per match).
territory_ruleset = Table(
    "territory_ruleset", metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)
