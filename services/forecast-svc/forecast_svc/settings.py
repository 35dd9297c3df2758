from kam_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "forecast-svc"
    port: int = 8003
    # Roll-ups sum one currency; opportunities in others are reported by `other_currencies`.
    kam_reporting_currency: str = "CNY"
