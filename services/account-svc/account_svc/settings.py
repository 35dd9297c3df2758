from kam_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "account-svc"
    port: int = 8001
