"""team-svc tables of the slice: replicas of other services' data."""
from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

# opportunity-svc's opportunities (kam.opportunity.events): won revenue for attainment, open
# pipeline for expected incentive cost and capacity.
opportunity_facts = Table(
    "opportunity_facts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False, index=True),
    Column("owner_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_opportunity_facts_owner", "owner_id", "status", "close_date"),
)


# account-svc's accounts (kam.account.events): the capacity view per territory and person.
account_facts = Table(
    "account_facts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner_id", Uuid, nullable=True, index=True),
    Column("region", String(100), nullable=True),
    Column("industry", String(100), nullable=True),
    Column("employees", Integer, nullable=True),
    Column("merged_into", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
)
