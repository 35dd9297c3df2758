"""The list of close reasons in force (migration 0005): one row a reason, all carrying the list's version."""
from sqlalchemy import Boolean, Column, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

close_reasons = Table(
    "close_reasons", metadata,
    Column("outcome", String(4), primary_key=True),  # won | lost
    Column("code", String(40), primary_key=True),
    Column("position", Integer, nullable=False),  # the admin's order, shown as given
    Column("label_zh", String(100), nullable=False),
    Column("label_en", String(100), nullable=False),
    Column("needs_competitor", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    Column("updated_by", Uuid, nullable=True),
)
