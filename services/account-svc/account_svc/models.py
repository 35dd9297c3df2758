from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid

from kam_shared.tables import UtcDateTime, plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata, user_replica=True)

accounts = Table(
    "accounts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("credit_code", String(18), nullable=True, unique=True),
    Column("industry", String(100), nullable=True),
    Column("region", String(100), nullable=True),
    Column("owner_id", Uuid, nullable=True, index=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
