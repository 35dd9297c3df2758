"""Tables of the opportunity aggregate: the row, its stage history, its assessments, its team index."""
from sqlalchemy import (
                        JSON,
                        BigInteger,
                        Boolean,
                        Column,
                        Date,
                        ForeignKey,
                        Index,
                        Integer,
                        String,
                        Table,
                        Text,
                        UniqueConstraint,
                        Uuid,
                        false,
                        text,
)

from kam_shared.tables import BigId, UtcDateTime

from ..common.models import metadata

# One row per opportunity aggregate. Its value collections (product lines, sales team, tender
# details) are JSON documents in the row: they are only ever read and written with their
# opportunity, so a load is one SELECT and a save one UPDATE under the row's version guard.
opportunities = Table(
    "opportunities", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False, index=True),
    Column("name", String(300), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False, index=True),
    Column("owner_id", Uuid, nullable=False, index=True),
    Column("stage", Integer, nullable=False),
    Column("probability", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("close_reason", Text, nullable=True),  # a close-reason code (free text before migration 0005)
    Column("close_note", Text, nullable=True),
    Column("lost_to_competitor", String(200), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # 0002
    Column("stage_entered_at", UtcDateTime(), nullable=False),
    Column("confirmed", Boolean, nullable=False, server_default=false()),
    Column("confirmed_at", UtcDateTime(), nullable=True),
    Column("confirmed_by", Uuid, nullable=True),
    Column("forecast_category", String(20), nullable=True),
    Column("amount_from_lines", Boolean, nullable=False, server_default=false()),
    Column("lines", JSON, nullable=False, server_default=text("'[]'")),
    Column("team", JSON, nullable=False, server_default=text("'[]'")),
    Column("tender", JSON, nullable=True),
    Column("assessment_total", Integer, nullable=True),
    Column("high_value", Boolean, nullable=True),
)

stage_history = Table(
    "stage_history", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("opportunity_id", Uuid, ForeignKey("opportunities.id"), nullable=False),
    Column("from_stage", Integer, nullable=True),
    Column("to_stage", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("changed_by", Uuid, nullable=True),
    Column("changed_at", UtcDateTime(), nullable=False),
    # 0002: created | advanced | skipped_forward | moved_back | won | lost | reopened
    Column("kind", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Index("ix_stage_history_opportunity", "opportunity_id", "id"),
)

# 0002: every value assessment ever recorded (the latest total is also on the opportunity).
assessments = Table(
    "assessments", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("opportunity_id", Uuid, ForeignKey("opportunities.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("answers", JSON, nullable=False),
    Column("score_is_there_an_opportunity", Integer, nullable=False),
    Column("score_can_we_compete", Integer, nullable=False),
    Column("score_can_we_win", Integer, nullable=False),
    Column("score_worth_winning", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("high_value", Boolean, nullable=False),
    Column("assessed_by", Uuid, nullable=True),
    Column("assessed_at", UtcDateTime(), nullable=False),
    Column("opportunity_version", Integer, nullable=False),
    UniqueConstraint("opportunity_id", "number", name="uq_assessments_opportunity_number"),
)

# 0002: who is on which opportunity's team: an index of opportunities.team (written in the same
# transaction), so "opportunities I work on" is a lookup, for visibility and lists.
team_members = Table(
    "team_members", metadata,
    Column("opportunity_id", Uuid, ForeignKey("opportunities.id"), primary_key=True),
    Column("user_id", Uuid, primary_key=True),
    Column("role", String(30), nullable=False),
    Index("ix_team_members_user", "user_id"),
)
