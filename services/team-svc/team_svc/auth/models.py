"""team-svc tables of the slice: signing keys (the key ring)."""
from sqlalchemy import JSON, Column, String, Table, Text

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
