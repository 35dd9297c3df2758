"""Tables of forecast submission, on forecast-svc's metadata (migration 0006)."""
from sqlalchemy import (
                        JSON,
                        BigInteger,
                        Column,
                        Date,
                        ForeignKey,
                        Index,
                        Integer,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
                        Uuid,
)

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

# Forecast principles (预测原则) per period, keyed by its dates (migration 0010): `period` keeps
# the label they were first set under. A period without a row uses the defaults (counted:
# commit + closed; upside: best_case).
forecast_principles = Table(
    "forecast_principles", metadata,
    Column("period", String(20), primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("counted_categories", JSON, nullable=False),
    Column("upside_categories", JSON, nullable=False),
    Column("due_date", Date, nullable=True),
    Column("note", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_by", Uuid, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("period_start", "period_end", name="uq_forecast_principles_period_range"),
)

# One record per owner, period (its dates, whatever the label: migration 0010) and currency.
# Only current pointers and status live here; every figure is in an immutable version.
# `version` is the number of the latest version (the ETag).
forecast_records = Table(
    "forecast_records", metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("period", String(20), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(10), nullable=False),  # draft | submitted | published
    Column("version", Integer, nullable=False),
    Column("last_submitted_version", Integer, nullable=True),
    Column("submitted_to", Uuid, nullable=True),
    Column("submitted_at", UtcDateTime(), nullable=True),
    Column("published_version", Integer, nullable=True),
    Column("published_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("owner_id", "period_start", "period_end", "currency",
                     name="uq_forecast_records_owner_range_currency"),
    Index("ix_forecast_records_submitted_to", "submitted_to", "period_start", "period_end"),
)

# Insert-only: a database trigger refuses UPDATE and DELETE (migration 0006).
forecast_versions = Table(
    "forecast_versions", metadata,
    Column("record_id", Uuid, ForeignKey("forecast_records.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("kind", String(12), nullable=False),  # prefill | adjustment | refresh | submission | channel | publication
    Column("pipeline_cents", BigInteger, nullable=False),
    Column("best_case_cents", BigInteger, nullable=False),
    Column("commit_cents", BigInteger, nullable=False),
    Column("closed_cents", BigInteger, nullable=False),
    Column("omitted_cents", BigInteger, nullable=False),
    Column("forecast_cents", BigInteger, nullable=False),
    Column("upside_cents", BigInteger, nullable=False),
    Column("adjusted_category", String(10), nullable=True),
    Column("adjustment_cents", BigInteger, nullable=True),  # this version's delta (adjustments only)
    Column("reason", Text, nullable=True),  # why (required for adjustments)
    Column("note", Text, nullable=True),
    Column("submitted_to", Uuid, nullable=True),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("state", JSON, nullable=False),  # the whole ForecastState: lines, children, adjustments, channels
    Column("change", JSON, nullable=True),  # what this version changed, by kind
)
