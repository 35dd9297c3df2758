"""The product catalogue (migration 0006): one row a product, its code unique."""
from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

products = Table(
    "products", metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("family", String(100), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", Uuid, nullable=True),
    Index("ix_products_family_code", "family", "code"),
)
