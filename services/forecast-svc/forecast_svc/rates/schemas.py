import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from kam_shared.money import Money


class ExchangeRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_currency: str = Field(alias="from", pattern="^[A-Z]{3}$", description="ISO 4217 code")
    to_currency: str = Field(alias="to", pattern="^[A-Z]{3}$", description="ISO 4217 code")
    rate: Decimal = Field(max_digits=20, decimal_places=10,
                          description="units of `to` for one unit of `from`; greater than 0")
    effective_date: dt.date = Field(description="the first day of the month from which the rate is in force")


class ExchangeRateOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    from_currency: str = Field(serialization_alias="from")
    to_currency: str = Field(serialization_alias="to")
    rate: str
    effective_date: dt.date
    version: int = Field(description="the rate table's version this setting was made in")
    set_at: dt.datetime
    set_by: uuid.UUID
    superseded_at: dt.datetime | None = Field(description="null: in force; else when a later setting replaced it")


class ExchangeRatesOut(BaseModel):
    version: int
    rates: list[ExchangeRateOut] = Field(description="the settings in force, by pair and effective date")
    history: list[ExchangeRateOut] = Field(description="with `history=true`: every setting, superseded ones too")


class RateUsedOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    from_currency: str = Field(serialization_alias="from")
    to_currency: str = Field(serialization_alias="to")
    rate: str = Field(description="the rate applied (for an inverse pair, 1 / its rate)")
    effective_date: dt.date
    inverse: bool = Field(description="true: derived from the `to`→`from` pair")
    months: list[dt.date] = Field(description="the close months converted at this rate")
    amount: Money = Field(description="what was converted, in `from`")
