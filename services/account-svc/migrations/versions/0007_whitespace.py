"""whitespace: replica of the product catalogue, the families of won/open opportunities' lines, and
what comparable accounts (same industry and tier) buy per family

Opportunities replicated before this have no families (their events carried no catalogue codes);
they gain them with their next event.

Revision ID: 0007
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_replica",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "opportunity_families",
        sa.Column("opportunity_id", sa.Uuid, primary_key=True),
        sa.Column("family", sa.String(100), primary_key=True),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_opportunity_families_account", "opportunity_families", ["account_id", "family"])
    op.create_table(
        "comparable_family_stats",
        sa.Column("industry", sa.String(100), primary_key=True),
        sa.Column("tier", sa.String(20), primary_key=True),
        sa.Column("family", sa.String(100), primary_key=True),
        sa.Column("buyers", sa.Integer, nullable=False),
        sa.Column("estimates", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_accounts_industry_tier", "accounts", ["industry", "tier"])


def downgrade() -> None:
    op.drop_index("ix_accounts_industry_tier", "accounts")
    op.drop_table("comparable_family_stats")
    op.drop_index("ix_opportunity_families_account", "opportunity_families")
    op.drop_table("opportunity_families")
    op.drop_table("product_replica")
