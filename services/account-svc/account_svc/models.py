from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, ForeignKey, Index, Integer, MetaData, String,
                        Table, Text, Uuid, text)

from kam_shared.tables import BigId, UtcDateTime, plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata, user_replica=True)

accounts = Table(
    "accounts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    # The uniqueness key of the name (domain/names.py); on PostgreSQL also trigram-indexed (migration 0002).
    Column("normalized_name", String(300), nullable=False, index=True),
    Column("credit_code", String(18), nullable=True, unique=True),
    Column("industry", String(100), nullable=True),
    Column("region", String(100), nullable=True),
    Column("owner_id", Uuid, nullable=True, index=True),
    Column("status", String(20), nullable=False, server_default=text("'prospect'")),
    Column("type", String(20), nullable=True),
    Column("tier", String(20), nullable=True),
    Column("parent_id", Uuid, nullable=True, index=True),
    Column("centralised_purchasing", Boolean, nullable=False, server_default=text("false")),
    Column("employees", Integer, nullable=True),
    Column("annual_revenue_cents", BigInteger, nullable=True),
    Column("annual_purchase_volume_cents", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False, server_default=text("'CNY'")),
    Column("installed_base", Text, nullable=True),
    Column("business_situation", Text, nullable=True),
    Column("website", String(300), nullable=True),
    Column("phones", JSON, nullable=False, server_default=text("'[]'")),
    Column("addresses", JSON, nullable=False, server_default=text("'[]'")),
    Column("gross_margin_bp", Integer, nullable=True),  # basis points: 18.50 % → 1850
    Column("strategic_flags", JSON, nullable=False, server_default=text("'[]'")),
    Column("merged_into_id", Uuid, nullable=True, index=True),  # set on a tombstone
    Column("created_by", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Every owner an account has had (识别并分配客户: reassignment is recorded).
owner_history = Table(
    "owner_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("from_owner_id", Uuid, nullable=True),
    Column("to_owner_id", Uuid, nullable=False),
    Column("rule", String(100), nullable=False),  # explicit | creator | territory:<id> | reassigned
    Column("reason", Text, nullable=True),
    Column("changed_by", Uuid, nullable=True),
    Column("changed_at", UtcDateTime(), nullable=False),
    Index("ix_owner_history_account", "account_id", "id"),
)


def _record_columns():
    return [Column("version", Integer, nullable=False), Column("created_at", UtcDateTime(), nullable=False),
            Column("updated_at", UtcDateTime(), nullable=False)]


contacts = Table(
    "contacts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("title", String(200), nullable=True),
    Column("department", String(20), nullable=True),
    Column("level", String(20), nullable=True),
    Column("buying_role", String(30), nullable=True),
    Column("attitude", String(20), nullable=True),
    Column("relationship_strength", String(20), nullable=True),
    Column("reports_to_id", Uuid, nullable=True),
    Column("email", String(320), nullable=True),
    Column("phone", String(50), nullable=True),
    Column("notes", Text, nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    *_record_columns(),
)

competitors = Table(
    "competitors", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("competitor", String(200), nullable=False),
    Column("products_in_use", Text, nullable=True),
    Column("customer_satisfaction", String(20), nullable=True),
    Column("sales_rep", String(200), nullable=True),
    Column("sales_style", Text, nullable=True),
    Column("rep_relationship", String(20), nullable=True),
    Column("strengths", Text, nullable=True),
    Column("weaknesses", Text, nullable=True),
    Column("bottom_line", Text, nullable=True),
    Column("notes", Text, nullable=True),
    *_record_columns(),
)

plans = Table(
    "plans", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("period", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("relationship_stage", String(20), nullable=False),
    Column("value_proposition", Text, nullable=True),
    Column("objectives", JSON, nullable=False),
    Column("coverage", JSON, nullable=False),
    Column("actions", JSON, nullable=False),
    Column("sponsor_meetings", JSON, nullable=False),
    *_record_columns(),
)

interactions = Table(
    "interactions", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("our_attendee_ids", JSON, nullable=False),
    Column("contact_ids", JSON, nullable=False),
    Column("notes", Text, nullable=True),
    Column("next_step", Text, nullable=True),
    Column("next_step_due", Date, nullable=True),
    Column("logged_by", Uuid, nullable=True),
    *_record_columns(),
    Index("ix_interactions_account_occurred", "account_id", "occurred_at"),
)

complaints = Table(
    "complaints", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("subject", String(300), nullable=False),
    Column("description", Text, nullable=True),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("contact_id", Uuid, nullable=True),
    Column("assignee_id", Uuid, nullable=True),
    Column("raised_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("resolution", Text, nullable=True),
    Column("resolution_minutes", Integer, nullable=True),
    *_record_columns(),
)

# Local copy of opportunity-svc's opportunities (kam.opportunity.events): won revenue per account
# for classification and the Pareto view. Version-guarded upserts; only won rows count.
opportunity_replica = Table(
    "opportunity_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_opportunity_replica_status_account", "status", "account_id"),
)

# Local copy of team-svc's territories (kam.team.territory_created/updated): the rule book that
# picks the owner of a new account. The whole TerritoryState is kept, version-guarded.
territory_replica = Table(
    "territory_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

RECORD_TABLES = {"contact": contacts, "competitor": competitors, "plan": plans, "interaction": interactions,
                 "complaint": complaints}
