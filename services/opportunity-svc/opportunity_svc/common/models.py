"""The one MetaData of opportunity-svc and its plumbing tables (outbox, inbox, user replica, ...).

Every slice defines its own tables on `metadata`; importing the slices (main.py does) registers them all.
"""
from sqlalchemy import MetaData

from kam_shared.tables import plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata, user_replica=True)
