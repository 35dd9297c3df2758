"""predictions: each opportunity's journey through the funnel (first entry of each stage, highest stage
reached, the close) and the versions that tell the in-memory statistics when they are stale

Existing opportunities get their journeys from POST /v1/admin/rebuild (opportunity-svc's stage
history); new events keep them current.

Revision ID: 0013
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_journeys",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("close_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_stage", sa.Integer, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        *[sa.Column(f"entered_{s}", sa.DateTime(timezone=True), nullable=True) for s in range(1, 8)],
    )
    op.create_index("ix_prediction_journeys_open", "prediction_journeys", ["status", "close_date"])
    op.create_index("ix_prediction_journeys_owner", "prediction_journeys", ["owner_id"])
    versions = op.create_table(
        "prediction_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("history", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(versions, [{"id": 1, "history": 0}])


def downgrade() -> None:
    op.drop_table("prediction_versions")
    op.drop_index("ix_prediction_journeys_owner", "prediction_journeys")
    op.drop_index("ix_prediction_journeys_open", "prediction_journeys")
    op.drop_table("prediction_journeys")
