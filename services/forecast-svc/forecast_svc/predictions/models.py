"""Tables of the predictions slice, on forecast-svc's one MetaData (migration 0013).

One row per opportunity: its journey through the funnel as far as the predicted outcome needs it
(when it first entered each open stage, the highest stage it reached, when and how it closed),
kept by the consumer of kam.opportunity.events and rebuilt from opportunity-svc's stage history."""
from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

OPEN_STAGES = range(1, 8)

prediction_journeys = Table(
    "prediction_journeys", metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("close_date", Date, nullable=False),
    Column("status", String(10), nullable=False),  # open | won | lost
    Column("stage", Integer, nullable=False),  # 1..7 while open, 8 closed
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),  # the opportunity's, as its events carry it
    Column("created_at", UtcDateTime(), nullable=False),
    Column("stage_entered_at", UtcDateTime(), nullable=False),  # the current stage's entry
    Column("max_stage", Integer, nullable=False),  # highest open stage (1..7) ever reached
    Column("closed_at", UtcDateTime(), nullable=True),  # null while open
    *[Column(f"entered_{s}", UtcDateTime(), nullable=True) for s in OPEN_STAGES],  # first entry of each stage
    Index("ix_prediction_journeys_open", "status", "close_date"),
    Index("ix_prediction_journeys_owner", "owner_id"),
    # The period's pipeline and won amount of a subtree from the index alone (PostgreSQL; 0015).
    Index("ix_prediction_journeys_close", "close_date",
          postgresql_include=["status", "currency", "owner_id", "stage", "stage_entered_at", "amount_cents"]),
)

# One row (id 1). `history` is bumped in every transaction that changes what the closed history
# says (an opportunity closes, reopens, or a closed one changes owner): the per-owner statistics
# are cached in memory while it stands. Other changes do not touch it (no hot row on every event).
prediction_versions = Table(
    "prediction_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("history", BigInteger, nullable=False),
)
