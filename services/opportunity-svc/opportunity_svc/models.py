from sqlalchemy import (BigInteger, Column, Date, ForeignKey, Index, Integer, MetaData, String, Table,
                        Text, Uuid)

from kam_shared.tables import UtcDateTime, BigId, plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata, user_replica=True)

opportunities = Table(
    "opportunities", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False, index=True),
    Column("name", String(300), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("owner_id", Uuid, nullable=False, index=True),
    Column("stage", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("close_reason", Text, nullable=True),
    Column("lost_to_competitor", String(200), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

stage_history = Table(
    "stage_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("opportunity_id", Uuid, ForeignKey("opportunities.id"), nullable=False),
    Column("from_stage", Integer, nullable=True),
    Column("to_stage", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("changed_by", Uuid, nullable=True),
    Column("changed_at", UtcDateTime(), nullable=False),
    Index("ix_stage_history_opportunity", "opportunity_id", "id"),
)

# Local copy of account-svc's accounts, fed by kam.account.events, to validate account_id.
account_replica = Table(
    "account_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner_id", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
)
