"""forecast submission: principles per period, forecast records and their immutable versions

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

IMMUTABLE = "forecast versions are immutable: insert a new version instead"


def upgrade() -> None:
    op.create_table(
        "forecast_principles",
        sa.Column("period", sa.String(20), primary_key=True),
        sa.Column("counted_categories", sa.JSON, nullable=False),
        sa.Column("upside_categories", sa.JSON, nullable=False),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "forecast_records",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("last_submitted_version", sa.Integer, nullable=True),
        sa.Column("submitted_to", sa.Uuid, nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_version", sa.Integer, nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner_id", "period", "currency", name="uq_forecast_records_owner_period_currency"),
    )
    op.create_index("ix_forecast_records_submitted_to", "forecast_records", ["submitted_to", "period"])
    op.create_table(
        "forecast_versions",
        sa.Column("record_id", sa.Uuid, sa.ForeignKey("forecast_records.id"), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("pipeline_cents", sa.BigInteger, nullable=False),
        sa.Column("best_case_cents", sa.BigInteger, nullable=False),
        sa.Column("commit_cents", sa.BigInteger, nullable=False),
        sa.Column("closed_cents", sa.BigInteger, nullable=False),
        sa.Column("omitted_cents", sa.BigInteger, nullable=False),
        sa.Column("forecast_cents", sa.BigInteger, nullable=False),
        sa.Column("upside_cents", sa.BigInteger, nullable=False),
        sa.Column("adjusted_category", sa.String(10), nullable=True),
        sa.Column("adjustment_cents", sa.BigInteger, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("submitted_to", sa.Uuid, nullable=True),
        sa.Column("created_by", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("change", sa.JSON, nullable=True),
    )
    # Versions are history: the database itself refuses to rewrite or delete one.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION forecast_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{IMMUTABLE}'; END $$""")
        op.execute("""
            CREATE TRIGGER forecast_versions_immutable BEFORE UPDATE OR DELETE ON forecast_versions
            FOR EACH ROW EXECUTE FUNCTION forecast_versions_immutable()""")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER forecast_versions_no_{action.lower()} BEFORE {action} ON forecast_versions
                BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS forecast_versions_immutable ON forecast_versions")
        op.execute("DROP FUNCTION IF EXISTS forecast_versions_immutable()")
    op.drop_table("forecast_versions")  # SQLite drops the table's triggers with it
    op.drop_index("ix_forecast_records_submitted_to", table_name="forecast_records")
    op.drop_table("forecast_records")
    op.drop_table("forecast_principles")
