"""territories, their assignment rules, the rule-set revision

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from kam_shared.tables import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PathText = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "territories",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parent_id", sa.Uuid, sa.ForeignKey("territories.id"), nullable=True),
        sa.Column("owner_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("org_unit_id", sa.Uuid, sa.ForeignKey("org_units.id"), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("path", PathText, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_territories_parent_id", "territories", ["parent_id"])
    op.create_index("ix_territories_owner_id", "territories", ["owner_id"])
    op.create_index("ix_territories_path", "territories", ["path"])
    op.create_table(
        "territory_rules",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("territory_id", sa.Uuid, sa.ForeignKey("territories.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("regions", sa.JSON, nullable=False),
        sa.Column("industries", sa.JSON, nullable=False),
        sa.Column("size_bands", sa.JSON, nullable=False),
        sa.Column("account_ids", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_territory_rules_territory_id", "territory_rules", ["territory_id"])
    op.create_index("ix_territory_rules_priority", "territory_rules", ["priority"])
    ruleset = op.create_table(
        "territory_ruleset",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(ruleset, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    op.drop_table("territory_ruleset")
    op.drop_table("territory_rules")
    op.drop_table("territories")
