"""API models of accounts: profile, create/patch, pages, reassignment, duplicates, the tree."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from kam_shared.http import INT_MAX
from kam_shared.money import Money

from ..common import vocabulary as v
from ..common.schemas import Input, LongText

Status = Literal[v.ACCOUNT_STATUSES]
AccountType = Literal[v.ACCOUNT_TYPES]
Tier = Literal[v.ACCOUNT_TIERS]
StrategicFlag = Literal[v.STRATEGIC_FLAGS]
HealthBand = Literal[v.HEALTH_BANDS]
Percent = Annotated[Decimal, Field(ge=-100, le=100, max_digits=5, decimal_places=2)]


class PhoneNumber(Input):
    label: str | None = Field(default=None, max_length=50, description="e.g. switchboard, fax, hotline")
    number: str = Field(min_length=1, max_length=50)


class Address(Input):
    kind: Literal[v.ADDRESS_KINDS] = "office"
    line: str = Field(min_length=1, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    province: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=100)


# --- accounts ------------------------------------------------------------------------------------

class AccountProfileFields(Input):
    """The profile as a PATCH sends it: only the fields present change; null clears an optional one."""
    name: str | None = Field(default=None, min_length=1, max_length=300, description="legal name")
    credit_code: str | None = Field(default=None, max_length=40,
                                    description="unified social credit code (统一社会信用代码), 18 characters")
    industry: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    status: Status = Field(default=None, description="prospect | active | dormant | lost")  # type: ignore[assignment]
    parent_id: uuid.UUID | None = Field(default=None, description="the group or head office above this account")
    centralised_purchasing: bool = Field(default=None, description="统一采购: the group buys for its members")  # type: ignore[assignment]
    employees: int | None = Field(default=None, ge=0, le=INT_MAX)
    annual_revenue: Money | None = None
    annual_purchase_volume: Money | None = Field(default=None, description="their yearly purchases of our category")
    currency: str = Field(default=None, min_length=3, max_length=3,  # type: ignore[assignment]
                          description="ISO 4217; the currency of annual_revenue and annual_purchase_volume")
    installed_base: LongText | None = Field(default=None, description="同类产品安装和使用状况")
    business_situation: LongText | None = None
    website: str | None = Field(default=None, max_length=300)
    phones: list[PhoneNumber] = Field(default=None, max_length=20)  # type: ignore[assignment]
    addresses: list[Address] = Field(default=None, max_length=20)  # type: ignore[assignment]
    gross_margin_pct: Percent | None = Field(default=None, description="our gross margin on this account (input "
                                                                       "for tiering; not in opportunity events)")
    strategic_flags: list[StrategicFlag] = Field(default=None, max_length=4)  # type: ignore[assignment]


class AccountCreate(AccountProfileFields):
    name: str = Field(min_length=1, max_length=300, description="legal name")
    owner_id: uuid.UUID | None = Field(default=None, description="the account manager; default: territory rules, "
                                                                 "then the creator")
    type: AccountType | None = None
    tier: Tier | None = None


class AccountPatch(AccountProfileFields):
    pass


class AccountOut(BaseModel):
    id: uuid.UUID
    name: str
    normalized_name: str
    credit_code: str | None
    industry: str | None
    region: str | None
    owner_id: uuid.UUID | None
    status: str
    type: str | None
    tier: str | None
    parent_id: uuid.UUID | None
    centralised_purchasing: bool
    employees: int | None
    annual_revenue: Money | None
    annual_purchase_volume: Money | None
    currency: str
    installed_base: str | None
    business_situation: str | None
    website: str | None
    phones: list[dict]
    addresses: list[dict]
    gross_margin_pct: Decimal | None
    strategic_flags: list[str]
    merged_into_id: uuid.UUID | None = Field(description="set when this account was merged away (a tombstone)")
    version: int
    created_by: uuid.UUID | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    health_score: int | None = Field(default=None, description="stored health score 0-100 (GET .../health for "
                                                               "the parts; refreshed there)")
    health_band: HealthBand | None = None


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class SnapshotPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None
    as_of: dt.datetime


class Reassign(Input):
    owner_id: uuid.UUID
    reason: str | None = Field(default=None, max_length=2000)


class OwnerHistoryEntry(BaseModel):
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID
    rule: str
    reason: str | None
    changed_by: uuid.UUID | None
    changed_at: dt.datetime

class DuplicateCandidate(BaseModel):
    """An account you may not see (`visible: false`) shows only that it matches and who owns it: its id,
    name, credit code, region and reasons are null/empty."""
    id: uuid.UUID | None
    name: str | None
    credit_code: str | None
    region: str | None
    score: int = Field(description="0-100: 100 same credit code, 95 same normalised name, else name similarity")
    exact: bool = Field(description="creating this account would be refused (409) because of this one")
    reasons: list[str]
    visible: bool = Field(description="whether you may open it (GET answers 404 otherwise)")
    owner_id: uuid.UUID | None = Field(default=None, description="who owns it (ask them), whether visible or not")


class Duplicates(BaseModel):
    normalized_name: str | None
    credit_code: str | None
    candidates: list[DuplicateCandidate]


class TreeNode(BaseModel):
    id: uuid.UUID
    name: str | None = Field(description="null when restricted")
    restricted: bool = Field(description="in the hierarchy but not visible to you")
    owner_id: uuid.UUID | None = None
    type: str | None = None
    tier: str | None = None
    centralised_purchasing: bool | None = None
    children: list["TreeNode"] = []


class Tree(BaseModel):
    ancestors: list[TreeNode] = Field(description="from the top of the hierarchy down to the parent")
    tree: TreeNode
