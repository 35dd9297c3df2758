"""The stage model in force: eight rows, all carrying the model's version."""
from sqlalchemy import Column, Integer, String, Table, Text, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

# 0002: the stage model in force (eight rows, all carrying the model's version).
stage_model = Table(
    "stage_model", metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    Column("updated_by", Uuid, nullable=True),
)
