import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from kam_shared.money import Money


class Estimate(BaseModel):
    currency: str
    amount: Money = Field(description="median won amount of the family's lines in one opportunity, among "
                                      "comparable accounts that bought it")
    won_opportunities: int = Field(description="how many won opportunities the median is taken over")


class Comparable(BaseModel):
    """What accounts of the unit's industry and tier buy in the family."""
    industry: str
    tier: str
    accounts: int = Field(description="live accounts of that industry and tier")
    buyers: int = Field(description="of them, how many won an opportunity with a line in the family")
    share: float = Field(description="buyers / accounts, 0..1")
    estimates: list[Estimate] = Field(description="per currency; empty when none bought it")


class Cell(BaseModel):
    family: str
    status: Literal["won", "open", "none"] = Field(
        description="won: the unit won an opportunity with a line in the family; open: one is open; none")
    won_opportunities: int
    open_opportunities: int
    comparable: Comparable | None = Field(description="for none: what comparable accounts buy; null when won or "
                                                      "open, or when the unit has no industry or tier")


class WhitespaceUnit(BaseModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    depth: int = Field(description="0 for the account asked about, 1 for its subsidiaries, ...")
    restricted: bool = Field(description="outside your scope: its place in the tree only, no details or cells")
    name: str | None
    industry: str | None
    tier: str | None
    cells: list[Cell]


class Whitespace(BaseModel):
    account_id: uuid.UUID
    families: list[str] = Field(description="product families of the active catalogue, and any the units bought")
    units: list[WhitespaceUnit] = Field(description="the account and everything below it, depth first")
    as_of: dt.datetime
