"""forecast records, principles and the publish lock keyed by the period's dates, not its label

FY2026-Q4 (a fiscal year starting in January) and 2026-Q4 are the same months; keyed by label, a
rep could create and submit one after the business unit had published the other.

Revision ID: 0010
Revises: 0009
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _range_of(label: str, fiscal_start_month: int) -> tuple[dt.date, dt.date]:
    from forecast_svc.periods.domain import parse_period  # the one parser of period labels

    period = parse_period(label, fiscal_start_month)
    return period.start, period.end


def _refuse_duplicates(bind) -> None:
    """Records the old label key let through twice for the same months: an operator must decide
    which one stands (delete the other's versions and row) before this migration can run."""
    twice = bind.execute(sa.text(
        "SELECT owner_id, period_start, period_end, currency, count(*) FROM forecast_records "
        "GROUP BY owner_id, period_start, period_end, currency HAVING count(*) > 1")).all()
    if twice:
        listed = "; ".join(f"owner {r[0]} {r[1]}..{r[2]} {r[3]} ({r[4]} records)" for r in twice[:20])
        raise RuntimeError(f"forecast records for the same owner, months and currency under different labels: "
                           f"{listed}. Keep one of each and migrate again.")


def upgrade() -> None:
    bind = op.get_bind()
    _refuse_duplicates(bind)
    with op.batch_alter_table("forecast_records") as batch:
        batch.drop_index("ix_forecast_records_submitted_to")
        batch.drop_constraint("uq_forecast_records_owner_period_currency", type_="unique")
        batch.create_unique_constraint("uq_forecast_records_owner_range_currency",
                                       ["owner_id", "period_start", "period_end", "currency"])
        batch.create_index("ix_forecast_records_submitted_to", ["submitted_to", "period_start", "period_end"])

    with op.batch_alter_table("forecast_principles") as batch:
        batch.add_column(sa.Column("period_start", sa.Date, nullable=True))
        batch.add_column(sa.Column("period_end", sa.Date, nullable=True))
    fiscal_start = bind.execute(sa.text("SELECT fiscal_year_start_month FROM fiscal_calendar")).scalar() or 1
    for (label,) in bind.execute(sa.text("SELECT period FROM forecast_principles")).all():
        start, end = _range_of(label, fiscal_start)
        bind.execute(sa.text("UPDATE forecast_principles SET period_start = :s, period_end = :e WHERE period = :p"),
                     {"s": start, "e": end, "p": label})
    with op.batch_alter_table("forecast_principles") as batch:
        batch.alter_column("period_start", existing_type=sa.Date, nullable=False)
        batch.alter_column("period_end", existing_type=sa.Date, nullable=False)
        batch.create_unique_constraint("uq_forecast_principles_period_range", ["period_start", "period_end"])


def downgrade() -> None:
    with op.batch_alter_table("forecast_principles") as batch:
        batch.drop_constraint("uq_forecast_principles_period_range", type_="unique")
        batch.drop_column("period_end")
        batch.drop_column("period_start")
    with op.batch_alter_table("forecast_records") as batch:
        batch.drop_index("ix_forecast_records_submitted_to")
        batch.drop_constraint("uq_forecast_records_owner_range_currency", type_="unique")
        batch.create_unique_constraint("uq_forecast_records_owner_period_currency", ["owner_id", "period", "currency"])
        batch.create_index("ix_forecast_records_submitted_to", ["submitted_to", "period"])
