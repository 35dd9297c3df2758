from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Index, Integer, String, Table, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

# What the history views read of a state, from the indexes that carry it (index-only on PostgreSQL).
_STATE_READ = ["owner_id", "status", "stage", "category_override", "amount_cents", "probability"]

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
    # The valid_from of its current state in the state history, and of its first (the one that
    # replaced none; null when the history does not hold it): GET /v1/pipeline-changes reads an
    # opportunity's state today from here when it changed after `since`, and tells a new one (0017).
    Column("state_valid_from", UtcDateTime(), nullable=True),
    Column("created_valid_from", UtcDateTime(), nullable=True),
    Index("ix_facts_owner_close", "owner_id", "close_date"),
    Index("ix_facts_account", "account_id"),
    Index("ix_facts_currency_close_state", "currency", "close_date", "state_valid_from",
          postgresql_include=["id", "created_valid_from", *_STATE_READ]),
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

# ----------------------------------------------------------------------------- other kinds of node
# An org unit and a territory are nodes too: their subtree totals live in `rollup_cells` under their
# own id (ids are UUIDs of different aggregates, so they never collide with a user's).

# Replica of team-svc's org units (kam.team.org_unit_*), version-guarded: the unit tree.
org_unit_replica = Table(
    "org_unit_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("parent_id", Uuid, nullable=True, index=True),
    Column("manager_id", Uuid, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
)

# Each user's org unit, from the user events (the shared user replica does not carry it).
user_org_units = Table(
    "user_org_units", metadata,
    Column("id", Uuid, primary_key=True),  # the user
    Column("org_unit_id", Uuid, nullable=True, index=True),
    Column("version", Integer, nullable=False),
)

# Replica of team-svc's territories (kam.team.territory_*) with all their rules (the state as JSON).
territory_replica = Table(
    "territory_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("parent_id", Uuid, nullable=True),
    Column("owner_id", Uuid, nullable=False),
    Column("org_unit_id", Uuid, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

# What territory rules look at, per account (kam.account.events), version-guarded.
account_profiles = Table(
    "account_profiles", metadata,
    Column("id", Uuid, primary_key=True),
    Column("region", String(200), nullable=True),
    Column("industry", String(200), nullable=True),
    Column("employees", Integer, nullable=True),
    Column("version", Integer, nullable=False),
)

# The territory that covers each account (the rule book's match), kept current by account and
# territory events; an account no rule matches has no row.
account_territories = Table(
    "account_territories", metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("territory_id", Uuid, nullable=False, index=True),
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
    # The valid_from of the state it replaced (null with it): so an opportunity's first state after
    # an instant T is the one row with valid_from > T >= prev_valid_from, found without ordering
    # its states (0017).
    Column("prev_valid_from", UtcDateTime(), nullable=True),
    # The subtree's owners, the period's close dates, the instants after T: for the new states and
    # for the states they replaced.
    Index("ix_history_owner_close_time", "owner_id", "close_date", "valid_from"),
    Index("ix_history_prev_owner_close_time", "prev_owner_id", "prev_close_date", "valid_from"),
    Index("ix_history_time", "valid_from"),
    # A top node's subtree is every owner: the period's states of one currency after T, with what
    # the history views read of them (index-only on PostgreSQL; 0015), and the version that orders
    # an opportunity's states and whether the new one replaced one (0016: pipeline changes' ends).
    Index("ix_history_currency_close_time", "currency", "close_date", "valid_from",
          postgresql_include=["opportunity_id", "version", "prev_status", *_STATE_READ]),
    Index("ix_history_prev_currency_close_time", "prev_currency", "prev_close_date", "valid_from",
          postgresql_include=["opportunity_id", "version", "prev_valid_from",
                              *[f"prev_{c}" for c in _STATE_READ]]),
)

# One row (id 1): states before `starts_at` are not known (the history was started on existing
# facts, or a rebuild found the stream's oldest events gone). Null: known since the first event.
history_horizon = Table(
    "history_horizon", metadata,
    Column("id", Integer, primary_key=True),
    Column("starts_at", UtcDateTime(), nullable=True),
)
