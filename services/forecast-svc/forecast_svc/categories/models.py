from sqlalchemy import Column, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

# Forecast principles: which forecast category each open stage falls in (configurable, versioned).
category_mapping = Table(
    "category_mapping", metadata,
    Column("stage", Integer, primary_key=True),
    Column("category", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_by", Uuid, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=True),
)
