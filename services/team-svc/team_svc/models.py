"""team-svc's tables. Kept in step with migrations/versions (the tests run the migrations)."""
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, ForeignKey, Index, Integer, MetaData, String,
                        Table, Text, UniqueConstraint, Uuid)
from sqlalchemy.dialects import postgresql

from kam_shared.tables import BigId, UtcDateTime, plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata)
read_model_status_table = plumbing.read_model_status

# Materialised paths (see domain/paths.py) compare byte-wise, so their index serves range scans:
# "C" collation on PostgreSQL (a locale collation would ignore the '/' separators), BINARY on SQLite.
PathText = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

# ------------------------------------------------------------------------------ organisation

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

users = Table(
    "users", metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("superior_id", Uuid, ForeignKey("users.id"), nullable=True, index=True),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("org_unit_id", Uuid, ForeignKey("org_units.id"), nullable=True, index=True),
    Column("title", String(200), nullable=True),
    # The reporting line as a materialised path: /<top>/…/<self>/ (see domain/paths.py).
    Column("path", PathText, nullable=False, index=True),
)

# Who changed what, per aggregate version: users and org units are deactivated, never deleted,
# and their history stays answerable.
change_log = Table(
    "change_log", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("entity_type", String(30), nullable=False),
    Column("entity_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("changed_by", Uuid, nullable=True),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("changes", JSON, nullable=False),
    Index("ix_change_log_entity", "entity_type", "entity_id", "id"),
)

# ------------------------------------------------------------------------------------- auth

signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", String(64), primary_key=True),
    # Erased once the key has left the JWKS: nothing can sign with a retired key again.
    Column("private_pem", Text, nullable=True),
    Column("public_jwk", JSON, nullable=False),
    Column("source", String(20), nullable=False),
    Column("activated_at", UtcDateTime(), nullable=False),
    Column("superseded_at", UtcDateTime(), nullable=True),
    Column("valid_until", UtcDateTime(), nullable=True),
)

# ------------------------------------------------------------------------------ territories

territories = Table(
    "territories", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("parent_id", Uuid, ForeignKey("territories.id"), nullable=True, index=True),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("org_unit_id", Uuid, ForeignKey("org_units.id"), nullable=True),
    Column("description", Text, nullable=True),
    Column("path", PathText, nullable=False, index=True),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

territory_rules = Table(
    "territory_rules", metadata,
    Column("id", Uuid, primary_key=True),
    Column("territory_id", Uuid, ForeignKey("territories.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("priority", Integer, nullable=False, index=True),
    Column("regions", JSON, nullable=False),
    Column("industries", JSON, nullable=False),
    Column("size_bands", JSON, nullable=False),
    Column("account_ids", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# One row: bumped in the transaction of every territory/rule change, so each replica of
# team-svc knows when its in-memory rule book is stale (one primary-key read per match).
territory_ruleset = Table(
    "territory_ruleset", metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

# -------------------------------------------------------------------------- fiscal, quotas

fiscal_calendar = Table(
    "fiscal_calendar", metadata,
    Column("id", Integer, primary_key=True),
    Column("fiscal_year_start_month", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

quotas = Table(
    "quotas", metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_kind", String(10), nullable=False),
    Column("owner_id", Uuid, nullable=False),
    Column("responsible_user_id", Uuid, nullable=True, index=True),
    Column("period", String(12), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("approved_amount_cents", BigInteger, nullable=True),
    Column("status", String(12), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("parent_quota_id", Uuid, ForeignKey("quotas.id"), nullable=True, index=True),
    Column("allocation_method", String(20), nullable=True),
    Column("created_by", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("owner_kind", "owner_id", "period", name="uq_quota_owner_period"),
)

quota_history = Table(
    "quota_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("quota_id", Uuid, ForeignKey("quotas.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("approved_amount_cents", BigInteger, nullable=True),
    Column("reason", Text, nullable=True),
    Column("actor_id", Uuid, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_quota_history_quota", "quota_id", "id"),
)

# ------------------------------------------------------------- replicas of other services

# opportunity-svc's opportunities (kam.opportunity.events): won revenue for attainment, open
# pipeline for expected incentive cost and capacity.
opportunity_facts = Table(
    "opportunity_facts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False, index=True),
    Column("owner_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_opportunity_facts_owner", "owner_id", "status", "close_date"),
)

# account-svc's accounts (kam.account.events): the capacity view per territory and person.
account_facts = Table(
    "account_facts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner_id", Uuid, nullable=True, index=True),
    Column("region", String(100), nullable=True),
    Column("industry", String(100), nullable=True),
    Column("employees", Integer, nullable=True),
    Column("merged_into", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
)

# ------------------------------------------------------------------------------- incentives

incentive_plans = Table(
    "incentive_plans", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("fiscal_year", String(6), nullable=False),
    Column("payout_frequency", String(10), nullable=False),
    # base rate, tiers, accelerators as decimal strings (exact on every backend)
    Column("terms", JSON, nullable=False),
    Column("cap_cents", BigInteger, nullable=True),
    Column("status", String(10), nullable=False),
    Column("approved_by", Uuid, nullable=True),
    Column("approved_at", UtcDateTime(), nullable=True),
    Column("created_by", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

incentive_plan_participants = Table(
    "incentive_plan_participants", metadata,
    Column("plan_id", Uuid, ForeignKey("incentive_plans.id"), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id"), primary_key=True, index=True),
)

incentive_cost_analyses = Table(
    "incentive_cost_analyses", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("plan_id", Uuid, ForeignKey("incentive_plans.id"), nullable=False, index=True),
    Column("plan_version", Integer, nullable=False),
    Column("period", String(12), nullable=False),
    Column("committed_cents", BigInteger, nullable=False),
    Column("expected_cents", BigInteger, nullable=False),
    Column("best_case_cents", BigInteger, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("analysed_by", Uuid, nullable=True),
    Column("analysed_at", UtcDateTime(), nullable=False),
)

payouts = Table(
    "payouts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("plan_id", Uuid, ForeignKey("incentive_plans.id"), nullable=False),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False, index=True),
    Column("period", String(12), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("quota_cents", BigInteger, nullable=False),
    Column("attained_cents", BigInteger, nullable=False),
    Column("attainment_percent", String(20), nullable=False),
    Column("gross_cents", BigInteger, nullable=False),
    Column("adjustment_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("plan_id", "user_id", "period", name="uq_payout_plan_user_period"),
)

payout_revisions = Table(
    "payout_revisions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("payout_id", Uuid, ForeignKey("payouts.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("quota_cents", BigInteger, nullable=False),
    Column("attained_cents", BigInteger, nullable=False),
    Column("gross_cents", BigInteger, nullable=False),
    Column("adjustment_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("paid_cents", BigInteger, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("reason", Text, nullable=True),
    Column("actor_id", Uuid, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_payout_revisions_payout", "payout_id", "id"),
)
