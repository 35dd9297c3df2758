"""team-svc tables of the slice: signing keys (the key ring), the sign-in throttle, refresh tokens."""
from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, Uuid

from kam_shared.tables import UtcDateTime

from ..common.models import metadata

signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", String(64), primary_key=True),
    # Erased once the key has left the JWKS: nothing can sign with a retired key again.
    Column("private_pem", Text, nullable=True),
    Column("public_jwk", JSON, nullable=False),
    Column("source", String(20), nullable=False),
    Column("activated_at", UtcDateTime(), nullable=False),
    Column("superseded_at", UtcDateTime(), nullable=True),
    Column("valid_until", UtcDateTime(), nullable=True),
)

# Failed sign-ins per (account, client address) and per client address, in the database so that
# every replica enforces the same delays. `key` is a SHA-256 of the scope and its parts: fixed
# length, and no list of the emails people mistyped.
signin_throttle = Table(
    "signin_throttle", metadata,
    Column("key", String(64), primary_key=True),
    Column("scope", String(10), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("blocked_until", UtcDateTime(), nullable=True),
    Column("last_attempt_at", UtcDateTime(), nullable=False),
    Index("ix_signin_throttle_last_attempt_at", "last_attempt_at"),
)

# Refresh tokens (OAuth 2.0 Security BCP §4.14): opaque, stored only as a SHA-256, one row per token.
# A refresh makes the next token of the same family and marks this one used; presenting a used one
# again means it was stolen (or replayed), and the whole family is revoked.
refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("revoked_reason", String(40), nullable=True),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_user_id", "user_id"),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)
