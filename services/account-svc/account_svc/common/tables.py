"""The one MetaData of account-svc: kam_shared's plumbing tables (outbox, inbox, user replica, ...)
and, through each slice's models.py, the slice tables."""
from sqlalchemy import MetaData

from kam_shared.tables import plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata, user_replica=True)
