from typing import Literal

from kam_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "forecast-svc"
    port: int = 8003
    # Roll-ups sum one currency; opportunities in others are reported by `other_currencies`.
    kam_reporting_currency: str = "CNY"
    # Which rate converts a roll-up's other currencies: "close_date" (the rate in force on each
    # opportunity's close date) or "fiscal_quarter" (a planning rate: the one in force on the first
    # day of the fiscal quarter the close date falls in).
    kam_fx_rate_basis: Literal["close_date", "fiscal_quarter"] = "close_date"
