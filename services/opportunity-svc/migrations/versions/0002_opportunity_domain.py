"""the whole opportunity domain: configurable stage model, stage-history kinds, fields (confirmation,
forecast category, product lines), sales team, value assessments, tender details, account merges

Revision ID: 0002
Revises: 0001
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

from kam_shared.tables import BigId, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The default funnel as of this revision (opportunity_svc.domain.funnel.DEFAULT_STAGES then).
DEFAULT_STAGES = [
    (1, "Find contacts and need", "寻找正确的联系人与特性需求: the right contacts and the real need", 10),
    (2, "Confirm needs, budget, sponsor", "查明需求、预算和项目发起人", 20),
    (3, "Map the organisation", "全面掌握客户组织关系: the customer's organisation and relationships", 30),
    (4, "Objective and resources", "确定销售目标及销售资源申请: sales objective set, resources requested", 40),
    (5, "Shortlisted / bidding", "进入候选名单/投标和评标: shortlisted, or bidding and evaluation", 50),
    (6, "Chosen / tender won", "实现惟一选择/中标: sole supplier chosen, or tender won", 70),
    (7, "Negotiation", "商务谈判: commercial negotiation", 90),
    (8, "Closed", "达成协议/失去商机: agreement on all terms (won) or opportunity lost", 100),
]


def upgrade() -> None:
    with op.batch_alter_table("opportunities") as batch:
        batch.add_column(sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("confirmed", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("confirmed_by", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("forecast_category", sa.String(20), nullable=True))
        batch.add_column(sa.Column("amount_from_lines", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("lines", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("team", sa.JSON, nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("tender", sa.JSON, nullable=True))
        batch.add_column(sa.Column("assessment_total", sa.Integer, nullable=True))
        batch.add_column(sa.Column("high_value", sa.Boolean, nullable=True))
    # An opportunity entered its current stage at its latest stage-history entry.
    op.execute("""UPDATE opportunities SET stage_entered_at = COALESCE(
        (SELECT MAX(h.changed_at) FROM stage_history h WHERE h.opportunity_id = opportunities.id), updated_at)""")
    with op.batch_alter_table("opportunities") as batch:
        batch.alter_column("stage_entered_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_opportunities_close_date", "opportunities", ["close_date"])

    with op.batch_alter_table("stage_history") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))
    op.execute("""UPDATE stage_history SET kind = CASE
        WHEN from_stage IS NULL THEN 'created'
        WHEN status IN ('won', 'lost') THEN status
        WHEN to_stage = from_stage + 1 THEN 'advanced'
        WHEN to_stage > from_stage THEN 'skipped_forward'
        ELSE 'moved_back' END""")
    with op.batch_alter_table("stage_history") as batch:
        batch.alter_column("kind", existing_type=sa.String(20), nullable=False)

    with op.batch_alter_table("account_replica") as batch:
        batch.add_column(sa.Column("merged_into", sa.Uuid, nullable=True))

    stage_model = op.create_table(
        "stage_model",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("probability", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.Column("updated_by", sa.Uuid, nullable=True),
    )
    now = dt.datetime.now(dt.timezone.utc)
    op.bulk_insert(stage_model, [dict(number=n, name=name, description=desc, probability=p, version=1,
                                      updated_at=now, updated_by=None) for n, name, desc, p in DEFAULT_STAGES])

    op.create_table(
        "assessments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("opportunity_id", sa.Uuid, sa.ForeignKey("opportunities.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.Column("score_is_there_an_opportunity", sa.Integer, nullable=False),
        sa.Column("score_can_we_compete", sa.Integer, nullable=False),
        sa.Column("score_can_we_win", sa.Integer, nullable=False),
        sa.Column("score_worth_winning", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("high_value", sa.Boolean, nullable=False),
        sa.Column("assessed_by", sa.Uuid, nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opportunity_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("opportunity_id", "number", name="uq_assessments_opportunity_number"),
    )
    op.create_table(
        "team_members",
        sa.Column("opportunity_id", sa.Uuid, sa.ForeignKey("opportunities.id"), primary_key=True),
        sa.Column("user_id", sa.Uuid, primary_key=True),
        sa.Column("role", sa.String(30), nullable=False),
    )
    op.create_index("ix_team_members_user", "team_members", ["user_id"])


def downgrade() -> None:
    op.drop_table("team_members")
    op.drop_table("assessments")
    op.drop_table("stage_model")
    with op.batch_alter_table("account_replica") as batch:
        batch.drop_column("merged_into")
    with op.batch_alter_table("stage_history") as batch:
        batch.drop_column("reason")
        batch.drop_column("kind")
    op.drop_index("ix_opportunities_close_date", "opportunities")
    with op.batch_alter_table("opportunities") as batch:
        for name in ("high_value", "assessment_total", "tender", "team", "lines", "amount_from_lines",
                     "forecast_category", "confirmed_by", "confirmed_at", "confirmed", "stage_entered_at"):
            batch.drop_column(name)
