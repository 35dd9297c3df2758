"""The service's one MetaData (every slice's tables are defined on it) and the plumbing tables
(outbox, inbox, read-model status, the user replica)."""
from sqlalchemy import MetaData

from kam_shared.tables import plumbing_tables

metadata = MetaData()
plumbing = plumbing_tables(metadata, user_replica=True)
