from kam_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "opportunity-svc"
    port: int = 8002
