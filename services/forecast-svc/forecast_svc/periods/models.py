from sqlalchemy import Column, Integer, Table

from ..common.models import metadata

# Replica of team-svc's fiscal calendar (one row, id 1): names the FY periods.
fiscal_calendar = Table(
    "fiscal_calendar", metadata,
    Column("id", Integer, primary_key=True),
    Column("fiscal_year_start_month", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)
