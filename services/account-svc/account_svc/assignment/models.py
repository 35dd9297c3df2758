"""The territory read model assignment applies."""
from sqlalchemy import JSON, Boolean, Column, Integer, Table, Uuid

from ..common.tables import metadata

# Local copy of team-svc's territories (kam.team.territory_created/updated): the rule book that
# picks the owner of a new account. The whole TerritoryState is kept, version-guarded.
territory_replica = Table(
    "territory_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)
