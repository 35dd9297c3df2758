import uuid

from pydantic import BaseModel, ConfigDict, Field


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300)
    credit_code: str | None = Field(default=None, max_length=18)
    industry: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    owner_id: uuid.UUID | None = None


class AccountOut(BaseModel):
    id: uuid.UUID
    name: str
    credit_code: str | None
    industry: str | None
    region: str | None
    owner_id: uuid.UUID | None
    version: int


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None
