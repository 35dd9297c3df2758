"""API model of a merge request."""
from __future__ import annotations

import uuid

from pydantic import Field

from ..common.schemas import Input


class Merge(Input):
    from_id: uuid.UUID = Field(description="the duplicate; it becomes a tombstone pointing at this account")
