"""close reasons: the admin-managed list of why opportunities are won or lost, and a note beside the reason

Closes before this keep their free-text reason in close_reason; from now on it holds a code of
the list, and the closer's own words go to close_note.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from opportunity_svc.close_reasons.domain import DEFAULT_REASONS  # the one list of defaults

    table = op.create_table(
        "close_reasons",
        sa.Column("outcome", sa.String(4), primary_key=True),
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("label_zh", sa.String(100), nullable=False),
        sa.Column("label_en", sa.String(100), nullable=False),
        sa.Column("needs_competitor", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Uuid, nullable=True),
    )
    op.bulk_insert(table, [dict(outcome=r.outcome, code=r.code, position=i, label_zh=r.labels["zh-CN"],
                                label_en=r.labels["en"], needs_competitor=r.needs_competitor, active=r.active,
                                version=1) for i, r in enumerate(DEFAULT_REASONS)])
    with op.batch_alter_table("opportunities") as batch:
        batch.add_column(sa.Column("close_note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_column("close_note")
    op.drop_table("close_reasons")
