"""The won-revenue read model of classification."""
from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, Uuid

from ..common.tables import metadata

# Local copy of opportunity-svc's opportunities (kam.opportunity.events): won revenue per account
# for classification and the Pareto view. Version-guarded upserts; only won rows count.
opportunity_replica = Table(
    "opportunity_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("close_date", Date, nullable=False),
    Column("status", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    # 0006: why a lost one was lost and to whom (account health: lost opportunities and to whom).
    Column("close_reason", String(100), nullable=True),
    Column("lost_to_competitor", String(200), nullable=True),
    Index("ix_opportunity_replica_status_account", "status", "account_id"),
)
