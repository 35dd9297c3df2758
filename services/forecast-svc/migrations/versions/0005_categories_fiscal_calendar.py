"""confirmation and forecast-category override on the facts; stage → category mapping; fiscal calendar replica

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Salesforce-like defaults for the 7 open stages; won is always `closed`, lost always `omitted`.
DEFAULT_MAPPING = {1: "pipeline", 2: "pipeline", 3: "pipeline", 4: "best_case", 5: "best_case", 6: "commit",
                   7: "commit"}


def upgrade() -> None:
    # Facts replicated before this migration lack both; POST /v1/admin/rebuild fills them in.
    with op.batch_alter_table("opportunity_facts") as batch:
        batch.add_column(sa.Column("confirmed", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("category_override", sa.String(10), nullable=True))
    mapping = op.create_table(
        "category_mapping",
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("category", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(mapping, [{"stage": s, "category": c, "version": 1} for s, c in DEFAULT_MAPPING.items()])
    calendar = op.create_table(
        "fiscal_calendar",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fiscal_year_start_month", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    # Until team-svc's first fiscal_calendar_changed arrives the fiscal year is the calendar year.
    op.bulk_insert(calendar, [{"id": 1, "fiscal_year_start_month": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("fiscal_calendar")
    op.drop_table("category_mapping")
    with op.batch_alter_table("opportunity_facts") as batch:
        batch.drop_column("category_override")
        batch.drop_column("confirmed")
