from sqlalchemy import BigInteger, Column, Date, Index, Integer, MetaData, String, Table, Uuid

from kam_shared.tables import UtcDateTime, plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata, user_replica=True)

# Read model of opportunity-svc's opportunities, fed by kam.opportunity.events.
opportunity_facts = Table(
    "opportunity_facts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False),
    Column("owner_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_facts_owner_close", "owner_id", "close_date"),
)
