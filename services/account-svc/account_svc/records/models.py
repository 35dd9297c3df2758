"""Tables of the records kept per account: contacts, competitors, plans, interactions, complaints."""
from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, Text, Uuid, text

from kam_shared.tables import UtcDateTime

from ..accounts.models import accounts
from ..common.tables import metadata


def _record_columns():
    return [Column("version", Integer, nullable=False), Column("created_at", UtcDateTime(), nullable=False),
            Column("updated_at", UtcDateTime(), nullable=False)]


contacts = Table(
    "contacts", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey(accounts.c.id), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("title", String(200), nullable=True),
    Column("department", String(20), nullable=True),
    Column("level", String(20), nullable=True),
    Column("buying_role", String(30), nullable=True),
    Column("attitude", String(20), nullable=True),
    Column("relationship_strength", String(20), nullable=True),
    Column("reports_to_id", Uuid, nullable=True),
    Column("email", String(320), nullable=True),
    Column("phone", String(50), nullable=True),
    Column("notes", Text, nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    *_record_columns(),
)

competitors = Table(
    "competitors", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey(accounts.c.id), nullable=False, index=True),
    Column("competitor", String(200), nullable=False),
    Column("products_in_use", Text, nullable=True),
    Column("customer_satisfaction", String(20), nullable=True),
    Column("sales_rep", String(200), nullable=True),
    Column("sales_style", Text, nullable=True),
    Column("rep_relationship", String(20), nullable=True),
    Column("strengths", Text, nullable=True),
    Column("weaknesses", Text, nullable=True),
    Column("bottom_line", Text, nullable=True),
    Column("notes", Text, nullable=True),
    *_record_columns(),
)

plans = Table(
    "plans", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey(accounts.c.id), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("period", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("relationship_stage", String(20), nullable=False),
    Column("value_proposition", Text, nullable=True),
    Column("objectives", JSON, nullable=False),
    Column("coverage", JSON, nullable=False),
    Column("actions", JSON, nullable=False),
    Column("sponsor_meetings", JSON, nullable=False),
    *_record_columns(),
)

interactions = Table(
    "interactions", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey(accounts.c.id), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("our_attendee_ids", JSON, nullable=False),
    Column("contact_ids", JSON, nullable=False),
    Column("notes", Text, nullable=True),
    Column("next_step", Text, nullable=True),
    Column("next_step_due", Date, nullable=True),
    Column("logged_by", Uuid, nullable=True),
    *_record_columns(),
    Index("ix_interactions_account_occurred", "account_id", "occurred_at"),
)

complaints = Table(
    "complaints", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey(accounts.c.id), nullable=False, index=True),
    Column("subject", String(300), nullable=False),
    Column("description", Text, nullable=True),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("contact_id", Uuid, nullable=True),
    Column("assignee_id", Uuid, nullable=True),
    Column("raised_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("resolution", Text, nullable=True),
    Column("resolution_minutes", Integer, nullable=True),
    *_record_columns(),
)

RECORD_TABLES = {"contact": contacts, "competitor": competitors, "plan": plans, "interaction": interactions,
                 "complaint": complaints}
