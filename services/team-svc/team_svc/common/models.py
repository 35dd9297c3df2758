"""The metadata every slice's tables join, the plumbing tables, the path column type and the change log.
Kept in step with migrations/versions (the tests run the migrations)."""
from sqlalchemy import JSON, Column, Index, Integer, MetaData, String, Table, Text, Uuid
from sqlalchemy.dialects import postgresql

from kam_shared.tables import BigId, UtcDateTime, plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata)
read_model_status_table = plumbing.read_model_status

# Materialised paths (see common/paths.py) compare byte-wise, so their index serves range scans:
# "C" collation on PostgreSQL (a locale collation would ignore the '/' separators), BINARY on SQLite.
PathText = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

# Who changed what, per aggregate version: users and org units are deactivated, never deleted,
# and their history stays answerable.
change_log = Table(
    "change_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("entity_type", String(30), nullable=False),
    Column("entity_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("changed_by", Uuid, nullable=True),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("changes", JSON, nullable=False),
    Index("ix_change_log_entity", "entity_type", "entity_id", "id"),
)
