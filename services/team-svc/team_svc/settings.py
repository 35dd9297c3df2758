from pathlib import Path

from kam_shared.settings import REPO_ROOT, ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "team-svc"
    port: int = 8004
    # The first signing key (a Secret shared by all replicas); replacing the file and restarting,
    # or POST /v1/auth/keys/rotate, makes a new key the signer while the old one stays published.
    kam_jwt_private_key_file: Path = REPO_ROOT / "var" / "team-svc-jwt.pem"
    # Access tokens are short (a stolen one is good for minutes); clients keep a session going with the
    # rotating refresh token (POST /v1/auth/token grant_type=refresh_token), which team-svc can revoke.
    kam_token_lifetime_s: int = 900
    # One refresh token's life: a client idle for longer signs in again. Each refresh makes a new one.
    kam_refresh_token_lifetime_s: int = 14 * 86400
    # Rotate the signing key automatically when it is older than this (0 = only by hand / by file).
    kam_jwt_rotate_after_s: int = 0
    # A superseded key stays in the JWKS for the token lifetime plus this much clock skew.
    kam_jwt_leeway_s: int = 60
    kam_bootstrap_admin_email: str = ""
    kam_bootstrap_admin_password: str = ""
    # The bootstrap admin must pick a password of their own at first sign-in (their token opens
    # only POST /v1/users/me/password until then). The dev stack and tests turn it off.
    kam_bootstrap_admin_must_change: bool = True
    # argon2id cost: OWASP's first recommendation (m=19 MiB, t=2, p=1). Hashes carry their own
    # parameters, so a change re-hashes each password at its next successful sign-in.
    kam_password_time_cost: int = 2
    kam_password_memory_kib: int = 19456
    kam_password_parallelism: int = 1
    # At most this many hashes at once (memory: this x the memory cost); a sign-in waits at most
    # KAM_PASSWORD_QUEUE_TIMEOUT_S for a turn, then gets 429 with Retry-After.
    kam_password_hash_concurrency: int = 2
    kam_password_queue_timeout_s: float = 10.0
    # Sign-in throttle (in the database: every replica enforces the same). After the free failures,
    # each failure makes the next attempt wait 2, 4, 8, ... x the base delay (s) up to the cap; per (account, client
    # address) and, more loosely, per client address. Quiet for KAM_SIGNIN_FORGET_AFTER_S: forgotten.
    kam_signin_account_free_failures: int = 5
    kam_signin_address_free_failures: int = 50
    kam_signin_base_delay_s: int = 1
    kam_signin_max_delay_s: int = 900
    kam_signin_forget_after_s: int = 86400
    # Each replica remembers for this long (at most until the block ends) that the database said a key
    # is blocked, and answers its attempts 429 without the database (0 = always ask the database).
    kam_signin_memory_s: float = 30.0
    # Tarpit: past this many attempts answered from memory during one block, each further attempt for
    # that key is held KAM_SIGNIN_TARPIT_S (0 = never) or until the block ends, then looked at again;
    # at most KAM_SIGNIN_TARPIT_MAX_HELD held at once per replica.
    kam_signin_tarpit_after: int = 3
    kam_signin_tarpit_s: float = 10.0
    kam_signin_tarpit_max_held: int = 500
    # kam_trusted_proxies (kam_shared's ServiceSettings): the proxies whose X-Forwarded-For the
    # throttle believes; uvicorn applies the same list before the request reaches us.
