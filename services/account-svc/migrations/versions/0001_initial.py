"""accounts, the user hierarchy replica and the plumbing tables

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.migrations import create_plumbing_tables, drop_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables(op, user_replica=True)
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=True, unique=True),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("region", sa.String(100), nullable=True),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_accounts_owner_id", "accounts", ["owner_id"])


def downgrade() -> None:
    op.drop_table("accounts")
    drop_plumbing_tables(op)
