from sqlalchemy import Column, Date, Index, Integer, String, Table, Uuid

from kam_shared.tables import BigId, UtcDateTime

from ..common.models import metadata

# The corporate rate table: one row per (pair, effective date) setting; a change supersedes the row
# in force (kept, with `superseded_at`), so the history of every setting stays readable.
exchange_rates = Table(
    "exchange_rates", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("from_currency", String(3), nullable=False),
    Column("to_currency", String(3), nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("rate", String(40), nullable=False),  # a decimal as text: exact on SQLite and PostgreSQL
    Column("version", Integer, nullable=False),
    Column("set_at", UtcDateTime(), nullable=False),
    Column("set_by", Uuid, nullable=False),
    Column("superseded_at", UtcDateTime(), nullable=True),
    Index("ix_exchange_rates_pair", "from_currency", "to_currency", "effective_date"),
)
