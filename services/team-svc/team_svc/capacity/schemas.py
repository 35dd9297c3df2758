"""API models of the capacity view."""

import datetime as dt
import uuid

from pydantic import BaseModel, Field

from kam_shared.money import Money


class CapacityCell(BaseModel):
    accounts: int
    open_count: int
    open_pipeline_amount: Money
    weighted_pipeline_amount: Money


class TerritoryCapacity(CapacityCell):
    territory_id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    owner_id: uuid.UUID
    active: bool
    including_sub_territories: CapacityCell


class PersonCapacity(CapacityCell):
    user_id: uuid.UUID
    name: str | None
    territories_owned: int


class Capacity(BaseModel):
    currency: str
    territories: list[TerritoryCapacity]
    people: list[PersonCapacity] = Field(description="accounts they own, pipeline they own, territories they own")
    unassigned: CapacityCell | None = Field(description="accounts no rule places in a territory (admins only)")
    as_of: dt.datetime | None = Field(description="time of the last account/opportunity event applied")
