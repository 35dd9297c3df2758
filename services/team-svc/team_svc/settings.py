from pathlib import Path

from kam_shared.settings import REPO_ROOT, ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "team-svc"
    port: int = 8004
    # The first signing key (a Secret shared by all replicas); replacing the file and restarting,
    # or POST /v1/auth/keys/rotate, makes a new key the signer while the old one stays published.
    kam_jwt_private_key_file: Path = REPO_ROOT / "var" / "team-svc-jwt.pem"
    kam_token_lifetime_s: int = 3600
    # Rotate the signing key automatically when it is older than this (0 = only by hand / by file).
    kam_jwt_rotate_after_s: int = 0
    # A superseded key stays in the JWKS for the token lifetime plus this much clock skew.
    kam_jwt_leeway_s: int = 60
    kam_bootstrap_admin_email: str = ""
    kam_bootstrap_admin_password: str = ""
    # argon2id cost (RFC 9106 / OWASP: t=3, m=64 MiB, p=4 by default). Hashes carry their own
    # parameters, so raising these re-hashes each password at its next successful sign-in.
    kam_password_time_cost: int = 3
    kam_password_memory_kib: int = 65536
    kam_password_parallelism: int = 4
    # Sign-in rate limits (per replica; see README): failed attempts per account, all attempts
    # per client address, each in a sliding window.
    kam_login_account_max_failures: int = 5
    kam_login_account_window_s: int = 300
    kam_login_address_max_attempts: int = 30
    kam_login_address_window_s: int = 60
