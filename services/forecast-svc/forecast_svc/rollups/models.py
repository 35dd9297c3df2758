from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

# Read model of opportunity-svc's opportunities, fed by kam.opportunity.events.
opportunity_facts = Table(
    "opportunity_facts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False),
    Column("owner_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("confirmed", Boolean, nullable=False, default=False),
    # The owner's forecast-category override (pipeline | best_case | commit | omitted); null: from the stage.
    Column("category_override", String(10), nullable=True),
    Index("ix_facts_owner_close", "owner_id", "close_date"),
)

# Pre-aggregated subtree figures per node (a user), close month, currency, status, stage,
# confirmation and category override, maintained by the consumer with exact deltas in the same
# transaction as the fact (see repository.py). A roll-up reads its node's few cells, nothing else.
rollup_cells = Table(
    "rollup_cells", metadata,
    Column("node_id", Uuid, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("status", String(10), primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("confirmed", Boolean, primary_key=True),
    Column("category_override", String(10), primary_key=True),  # "" = derived from the stage
    Column("count", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("weighted_cents_x100", BigInteger, nullable=False),
)

# One row (id 1): bumped in every transaction that changes the user replica, so a consumer can
# keep the reporting chains in memory and know, in the same transaction, whether they are current.
hierarchy_version = Table(
    "hierarchy_version", metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# Replica of opportunity-svc's stage model: open pipeline is weighted with these probabilities
# (an open opportunity's own event may predate a re-weighting published on another partition).
stage_probabilities = Table(
    "stage_probabilities", metadata,
    Column("stage", Integer, primary_key=True),
    Column("probability", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

# Append-only history of every opportunity's roll-up-relevant state (migration 0012), written by the
# consumer in the same transaction as the facts and cells: one row per applied state, valid from its
# event's time, carrying the state it replaced (prev_*; null when the opportunity was new). So a
# row is a self-contained delta: a figure at any instant T is today's figure minus the rows after T
# (new state out, replaced state back in), read only for the subtree's owners and the period's close
# dates. Rebuilt from the retained event stream by POST /v1/admin/rebuild.
STATE_COLUMNS = ("owner_id", "stage", "probability", "amount_cents", "currency", "close_date", "status",
                 "category_override", "confirmed")
opportunity_history = Table(
    "opportunity_history", metadata,
    Column("opportunity_id", Uuid, primary_key=True),
    Column("valid_from", UtcDateTime(), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("status", String(10), nullable=False),
    Column("category_override", String(10), nullable=True),
    Column("confirmed", Boolean, nullable=False),
    Column("prev_owner_id", Uuid, nullable=True),
    Column("prev_stage", Integer, nullable=True),
    Column("prev_probability", Integer, nullable=True),
    Column("prev_amount_cents", BigInteger, nullable=True),
    Column("prev_currency", String(3), nullable=True),
    Column("prev_close_date", Date, nullable=True),
    Column("prev_status", String(10), nullable=True),
    Column("prev_category_override", String(10), nullable=True),
    Column("prev_confirmed", Boolean, nullable=True),
    # The subtree's owners, the period's close dates, the instants after T: for the new states and
    # for the states they replaced.
    Index("ix_history_owner_close_time", "owner_id", "close_date", "valid_from"),
    Index("ix_history_prev_owner_close_time", "prev_owner_id", "prev_close_date", "valid_from"),
    Index("ix_history_time", "valid_from"),
)

# One row (id 1): states before `starts_at` are not known (the history was started on existing
# facts, or a rebuild found the stream's oldest events gone). Null: known since the first event.
history_horizon = Table(
    "history_horizon", metadata,
    Column("id", Integer, primary_key=True),
    Column("starts_at", UtcDateTime(), nullable=True),
)
