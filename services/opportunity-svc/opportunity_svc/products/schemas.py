import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kam_shared.events.opportunity import ProductState

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"


class ProductOut(ProductState):
    created_at: dt.datetime
    updated_at: dt.datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40, pattern=CODE_PATTERN,
                      description="unique, never changes; opportunity lines name the product by it")
    name: str = Field(min_length=1, max_length=200)
    family: str = Field(min_length=1, max_length=100, description="product family (lower-cased), e.g. software")
    active: StrictBool = True


class ProductPatch(BaseModel):
    """Send only what changes; deactivate (active false) instead of deleting."""
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    family: str | None = Field(default=None, min_length=1, max_length=100)
    active: StrictBool | None = None

