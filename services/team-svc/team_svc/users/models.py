"""team-svc tables of the slice: users: the people and their reporting line."""
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import PathText, metadata

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
)
