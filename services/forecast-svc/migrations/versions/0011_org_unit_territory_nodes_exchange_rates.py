"""org units and territories as roll-up nodes (their replicas and the account coverage); exchange rates

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_unit_replica",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("parent_id", sa.Uuid, nullable=True),
        sa.Column("manager_id", sa.Uuid, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_org_unit_replica_parent_id", "org_unit_replica", ["parent_id"])
    op.create_table(
        "user_org_units",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("org_unit_id", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_user_org_units_org_unit_id", "user_org_units", ["org_unit_id"])
    op.create_table(
        "territory_replica",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("parent_id", sa.Uuid, nullable=True),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("org_unit_id", sa.Uuid, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "account_profiles",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String(200), nullable=True),
        sa.Column("industry", sa.String(200), nullable=True),
        sa.Column("employees", sa.Integer, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "account_territories",
        sa.Column("account_id", sa.Uuid, primary_key=True),
        sa.Column("territory_id", sa.Uuid, nullable=False),
    )
    op.create_index("ix_account_territories_territory_id", "account_territories", ["territory_id"])
    op.create_index("ix_facts_account", "opportunity_facts", ["account_id"])
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("from_currency", sa.String(3), nullable=False),
        sa.Column("to_currency", sa.String(3), nullable=False),
        sa.Column("effective_date", sa.Date, nullable=False),
        sa.Column("rate", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.Uuid, nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_exchange_rates_pair", "exchange_rates", ["from_currency", "to_currency", "effective_date"])


def downgrade() -> None:
    op.drop_table("exchange_rates")
    op.drop_index("ix_facts_account", "opportunity_facts")
    for table in ("account_territories", "account_profiles", "territory_replica", "user_org_units",
                  "org_unit_replica"):
        op.drop_table(table)
