"""replica of the stage model's probabilities (default model, version 0)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DEFAULTS = {1: 10, 2: 20, 3: 30, 4: 40, 5: 50, 6: 70, 7: 90}


def upgrade() -> None:
    table = op.create_table(
        "stage_probabilities",
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.bulk_insert(table, [{"stage": s, "probability": p, "version": 0} for s, p in DEFAULTS.items()])


def downgrade() -> None:
    op.drop_table("stage_probabilities")
