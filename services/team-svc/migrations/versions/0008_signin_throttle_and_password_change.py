"""sign-in throttle shared by all replicas; users.must_change_password

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from kam_shared.tables import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_throttle",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("blocked_until", UtcDateTime(), nullable=True),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_signin_throttle_last_attempt_at", "signin_throttle", ["last_attempt_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
    op.drop_index("ix_signin_throttle_last_attempt_at", table_name="signin_throttle")
    op.drop_table("signin_throttle")
