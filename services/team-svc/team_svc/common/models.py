"""The metadata every slice's tables join, the plumbing tables, the path column type, the directory
(org units, users) and the change log.
Kept in step with migrations/versions (the tests run the migrations)."""
from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text, Uuid
from sqlalchemy import false as sa_false
from sqlalchemy.dialects import postgresql

from kam_shared.tables import BigId, UtcDateTime, plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata)
read_model_status_table = plumbing.read_model_status

# Materialised paths (see common/paths.py) compare byte-wise, so their index serves range scans:
# "C" collation on PostgreSQL (a locale collation would ignore the '/' separators), BINARY on SQLite.
PathText = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

# The directory: org units and people with their reporting lines. Every slice reads it (visibility,
# placement, names), so it sits here, under all of them; the org and users slices write it.

org_units = Table(
    "org_units", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("parent_id", Uuid, ForeignKey("org_units.id"), nullable=True, index=True),
    Column("company_id", Uuid, nullable=False, index=True),
    Column("manager_id", Uuid, ForeignKey("users.id", use_alter=True, name="fk_org_units_manager"),
           nullable=True, index=True),
    Column("path", PathText, nullable=False, index=True),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("superior_id", Uuid, ForeignKey("users.id"), nullable=True, index=True),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("org_unit_id", Uuid, ForeignKey("org_units.id"), nullable=True, index=True),
    Column("title", String(200), nullable=True),
    # The reporting line as a materialised path: /<top>/…/<self>/ (see common/paths.py).
    Column("path", PathText, nullable=False, index=True),
    # Set by the bootstrap and by an admin's reset: until the user picks a password of their own,
    # their tokens open only POST /v1/users/me/password.
    Column("must_change_password", Boolean, nullable=False, default=False, server_default=sa_false()),
)

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
