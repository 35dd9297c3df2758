"""Opaque cursors for keyset pagination (`limit`, `cursor`)."""
from __future__ import annotations

import base64

from .domain_errors import ValidationProblem


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, parse=str, field: str = "cursor"):
    """Decode a cursor and parse its value (e.g. `uuid.UUID`); a tampered cursor is a 422."""
    if not cursor:
        return None
    try:
        return parse(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise ValidationProblem("cursor is not one this API issued", field=field) from None
