"""team-svc tables of the slice: org units."""
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import PathText, metadata

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
