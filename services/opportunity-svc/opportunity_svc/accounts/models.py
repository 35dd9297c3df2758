"""The account replica: account-svc's accounts as far as opportunity-svc needs them."""
from sqlalchemy import Column, Integer, String, Table, Uuid

from ..common.models import metadata

# Local copy of account-svc's accounts, fed by kam.account.events, to validate account_id.
account_replica = Table(
    "account_replica", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(300), nullable=False),
    Column("owner_id", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    # 0002: set on the tombstone of an account merged into another (kam.account.merged.v1).
    Column("merged_into", Uuid, nullable=True),
)
