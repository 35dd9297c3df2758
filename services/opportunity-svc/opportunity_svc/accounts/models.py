"""The account replica: account-svc's accounts as far as opportunity-svc needs them."""
from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Uuid

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
    # 0007: the account version of the team below (kam.account.team_changed.v1 guards on it).
    Column("team_version", Integer, nullable=False, server_default="0"),
)

# The account team (account-svc's account_team): its members see the account's opportunities (read).
account_team_replica = Table(
    "account_team_replica", metadata,
    Column("account_id", Uuid, ForeignKey("account_replica.id"), primary_key=True),
    Column("user_id", Uuid, primary_key=True),
    Column("role", String(30), nullable=False),
    Index("ix_account_team_replica_user", "user_id", "account_id"),
)
