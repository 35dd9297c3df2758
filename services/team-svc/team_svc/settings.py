from pathlib import Path

from kam_shared.settings import REPO_ROOT, ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "team-svc"
    port: int = 8004
    kam_jwt_private_key_file: Path = REPO_ROOT / "var" / "team-svc-jwt.pem"
    kam_token_lifetime_s: int = 3600
    kam_bootstrap_admin_email: str = ""
    kam_bootstrap_admin_password: str = ""
