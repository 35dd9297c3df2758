"""account team replica: members of an account's team see its opportunities (kam.account.team_changed.v1)

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
    with op.batch_alter_table("account_replica") as batch:
        batch.add_column(sa.Column("team_version", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "account_team_replica",
        sa.Column("account_id", sa.Uuid, sa.ForeignKey("account_replica.id"), primary_key=True),
        sa.Column("user_id", sa.Uuid, primary_key=True),
        sa.Column("role", sa.String(30), nullable=False),
    )
    op.create_index("ix_account_team_replica_user", "account_team_replica", ["user_id", "account_id"])


def downgrade() -> None:
    op.drop_index("ix_account_team_replica_user", "account_team_replica")
    op.drop_table("account_team_replica")
    with op.batch_alter_table("account_replica") as batch:
        batch.drop_column("team_version")
