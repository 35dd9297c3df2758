"""API models shared by slices: an entry of the change log (users' and org units' history)."""
import datetime as dt
import uuid

from pydantic import BaseModel


class HistoryEntry(BaseModel):
    version: int
    event_type: str
    changed_by: uuid.UUID | None
    changed_at: dt.datetime
    changes: dict
