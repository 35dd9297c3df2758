"""the account domain: profile, normalised name, hierarchy, classification, tombstones; owner
history; contacts, competitors, plans, interactions, complaints; the opportunity replica

On PostgreSQL the normalised name also gets a pg_trgm GIN index for near-duplicate search, when
the extension can be created (it is a trusted extension from PostgreSQL 13: the database owner
may create it). Without it, or on SQLite, the service falls back to a slower candidate scan.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from account_svc.domain.names import normalise
from kam_shared.tables import BigId

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _record_columns():
    return [sa.Column("version", sa.Integer, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False)]


def _account_fk():
    return sa.Column("account_id", sa.Uuid, sa.ForeignKey("accounts.id"), nullable=False)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("normalized_name", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("status", sa.String(20), nullable=False, server_default=sa.text("'prospect'")))
        batch.add_column(sa.Column("type", sa.String(20), nullable=True))
        batch.add_column(sa.Column("tier", sa.String(20), nullable=True))
        batch.add_column(sa.Column("parent_id", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("centralised_purchasing", sa.Boolean, nullable=False,
                                   server_default=sa.text("false")))
        batch.add_column(sa.Column("employees", sa.Integer, nullable=True))
        batch.add_column(sa.Column("annual_revenue_cents", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("annual_purchase_volume_cents", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default=sa.text("'CNY'")))
        batch.add_column(sa.Column("installed_base", sa.Text, nullable=True))
        batch.add_column(sa.Column("business_situation", sa.Text, nullable=True))
        batch.add_column(sa.Column("website", sa.String(300), nullable=True))
        batch.add_column(sa.Column("phones", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("addresses", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("gross_margin_bp", sa.Integer, nullable=True))
        batch.add_column(sa.Column("strategic_flags", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("merged_into_id", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("created_by", sa.Uuid, nullable=True))

    # Existing accounts get their uniqueness key from the same function the service uses.
    accounts = sa.table("accounts", sa.column("id", sa.Uuid), sa.column("name", sa.String),
                        sa.column("normalized_name", sa.String))
    for row in bind.execute(sa.select(accounts.c.id, accounts.c.name)).all():
        bind.execute(accounts.update().where(accounts.c.id == row.id).values(normalized_name=normalise(row.name)))

    op.create_index("ix_accounts_normalized_name", "accounts", ["normalized_name"])
    op.create_index("ix_accounts_parent_id", "accounts", ["parent_id"])
    op.create_index("ix_accounts_merged_into_id", "accounts", ["merged_into_id"])
    if bind.dialect.name == "postgresql" and _create_pg_trgm(bind):
        # fastupdate off: a new name goes straight into the index instead of a pending list that every
        # search scans until the next vacuum (the check runs on every create; it must stay fast).
        op.execute("CREATE INDEX ix_accounts_normalized_name_trgm ON accounts "
                   "USING gin (normalized_name gin_trgm_ops) WITH (fastupdate = off)")

    op.create_table(
        "owner_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _account_fk(),
        sa.Column("from_owner_id", sa.Uuid, nullable=True),
        sa.Column("to_owner_id", sa.Uuid, nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("changed_by", sa.Uuid, nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_owner_history_account", "owner_history", ["account_id", "id"])
    # Accounts created before this revision: their owner, as the first entry of their history.
    op.execute("INSERT INTO owner_history (account_id, from_owner_id, to_owner_id, rule, changed_at) "
               "SELECT id, NULL, owner_id, 'explicit', created_at FROM accounts WHERE owner_id IS NOT NULL")

    op.create_table(
        "contacts",
        sa.Column("id", sa.Uuid, primary_key=True), _account_fk(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("department", sa.String(20), nullable=True),
        sa.Column("level", sa.String(20), nullable=True),
        sa.Column("buying_role", sa.String(30), nullable=True),
        sa.Column("attitude", sa.String(20), nullable=True),
        sa.Column("relationship_strength", sa.String(20), nullable=True),
        sa.Column("reports_to_id", sa.Uuid, nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(50), nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.text("true")),
        *_record_columns(),
    )
    op.create_index("ix_contacts_account_id", "contacts", ["account_id"])
    op.create_table(
        "competitors",
        sa.Column("id", sa.Uuid, primary_key=True), _account_fk(),
        sa.Column("competitor", sa.String(200), nullable=False),
        sa.Column("products_in_use", sa.Text, nullable=True),
        sa.Column("customer_satisfaction", sa.String(20), nullable=True),
        sa.Column("sales_rep", sa.String(200), nullable=True),
        sa.Column("sales_style", sa.Text, nullable=True),
        sa.Column("rep_relationship", sa.String(20), nullable=True),
        sa.Column("strengths", sa.Text, nullable=True),
        sa.Column("weaknesses", sa.Text, nullable=True),
        sa.Column("bottom_line", sa.Text, nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        *_record_columns(),
    )
    op.create_index("ix_competitors_account_id", "competitors", ["account_id"])
    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid, primary_key=True), _account_fk(),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("relationship_stage", sa.String(20), nullable=False),
        sa.Column("value_proposition", sa.Text, nullable=True),
        sa.Column("objectives", sa.JSON, nullable=False),
        sa.Column("coverage", sa.JSON, nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("sponsor_meetings", sa.JSON, nullable=False),
        *_record_columns(),
    )
    op.create_index("ix_plans_account_id", "plans", ["account_id"])
    op.create_table(
        "interactions",
        sa.Column("id", sa.Uuid, primary_key=True), _account_fk(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("our_attendee_ids", sa.JSON, nullable=False),
        sa.Column("contact_ids", sa.JSON, nullable=False),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("next_step", sa.Text, nullable=True),
        sa.Column("next_step_due", sa.Date, nullable=True),
        sa.Column("logged_by", sa.Uuid, nullable=True),
        *_record_columns(),
    )
    op.create_index("ix_interactions_account_occurred", "interactions", ["account_id", "occurred_at"])
    op.create_table(
        "complaints",
        sa.Column("id", sa.Uuid, primary_key=True), _account_fk(),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=True),
        sa.Column("assignee_id", sa.Uuid, nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.Column("resolution_minutes", sa.Integer, nullable=True),
        *_record_columns(),
    )
    op.create_index("ix_complaints_account_id", "complaints", ["account_id"])
    op.create_table(
        "opportunity_replica",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("close_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_opportunity_replica_status_account", "opportunity_replica", ["status", "account_id"])


def _create_pg_trgm(bind) -> bool:
    """CREATE EXTENSION pg_trgm inside a savepoint: a server without it, or a role without the right,
    leaves the migration going (without the trigram index) instead of failing it."""
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        savepoint.commit()
        return True
    except Exception:
        savepoint.rollback()
        return False


def downgrade() -> None:
    for name in ("opportunity_replica", "complaints", "interactions", "plans", "competitors", "contacts",
                 "owner_history"):
        op.drop_table(name)
    op.execute("DROP INDEX IF EXISTS ix_accounts_normalized_name_trgm")
    op.drop_index("ix_accounts_merged_into_id", "accounts")
    op.drop_index("ix_accounts_parent_id", "accounts")
    op.drop_index("ix_accounts_normalized_name", "accounts")
    with op.batch_alter_table("accounts") as batch:
        for column in ("created_by", "merged_into_id", "strategic_flags", "gross_margin_bp", "addresses", "phones",
                       "website", "business_situation", "installed_base", "currency", "annual_purchase_volume_cents",
                       "annual_revenue_cents", "employees", "centralised_purchasing", "parent_id", "tier", "type",
                       "status", "normalized_name"):
            batch.drop_column(column)
