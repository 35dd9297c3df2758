"""Tables of the accounts slice: the account (profile, hierarchy, classification, tombstone) and
its owner history."""
from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, Uuid, text

from kam_shared.tables import BigId, UtcDateTime

from ..common.tables import metadata

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
    # 0006: the stored health score and band (health/ slice writes them; not part of the version).
    Column("health_score", Integer, nullable=True),
    Column("health_band", String(10), nullable=True),
    Index("ix_accounts_health", "health_band", "health_score", "id"),
    Index("ix_accounts_industry_tier", "industry", "tier"),  # 0007: comparable accounts (whitespace)
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

# The account team (团队合作销售): people from any department with a role on the account. Part of the
# account aggregate (a change bumps the account's version); the owner above stays the single account
# manager. Members see the account (visibility below and in opportunity-svc's replica).
account_team = Table(
    "account_team", metadata,
    Column("account_id", Uuid, ForeignKey("accounts.id"), primary_key=True),
    Column("user_id", Uuid, primary_key=True),
    Column("role", String(30), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    Column("added_by", Uuid, nullable=True),
    Index("ix_account_team_user", "user_id", "account_id"),
)
