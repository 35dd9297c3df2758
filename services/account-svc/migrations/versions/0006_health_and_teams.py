"""account health and churn risk (stored score per account, the admin's health model) and account teams;
the won-opportunity replica also keeps why an opportunity was lost and to whom

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The default model (account_svc/health/domain.py DEFAULT_WEIGHTS, copied: a migration does not import the app).
DEFAULT_WEIGHTS = {"interactions": 25, "complaints": 15, "revenue_trend": 20, "lost_deals": 10, "buying_centre": 15,
                   "relationship_stage": 5, "plan_actions": 10}


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("health_score", sa.Integer, nullable=True))
        batch.add_column(sa.Column("health_band", sa.String(10), nullable=True))
    # The at-risk list: band, then worst first, then id (its keyset order).
    op.create_index("ix_accounts_health", "accounts", ["health_band", "health_score", "id"])
    op.create_table(
        "account_health",
        sa.Column("account_id", sa.Uuid, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("band", sa.String(10), nullable=False),
        sa.Column("parts", sa.JSON, nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(100), nullable=False),
    )
    op.create_index("ix_account_health_computed_at", "account_health", ["computed_at"])
    model = op.create_table(
        "health_model",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("weights", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(model, [{"id": 1, "weights": DEFAULT_WEIGHTS, "version": 1}])
    op.create_table(
        "account_team",
        sa.Column("account_id", sa.Uuid, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("user_id", sa.Uuid, primary_key=True),
        sa.Column("role", sa.String(30), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.Uuid, nullable=True),
    )
    op.create_index("ix_account_team_user", "account_team", ["user_id", "account_id"])
    with op.batch_alter_table("opportunity_replica") as batch:
        batch.add_column(sa.Column("close_reason", sa.String(100), nullable=True))
        batch.add_column(sa.Column("lost_to_competitor", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opportunity_replica") as batch:
        batch.drop_column("lost_to_competitor")
        batch.drop_column("close_reason")
    op.drop_index("ix_account_team_user", "account_team")
    op.drop_table("account_team")
    op.drop_table("health_model")
    op.drop_index("ix_account_health_computed_at", "account_health")
    op.drop_table("account_health")
    op.drop_index("ix_accounts_health", "accounts")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("health_band")
        batch.drop_column("health_score")
