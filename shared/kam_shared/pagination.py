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
        # validate=True: characters outside the URL-safe alphabet are an error, not silently dropped
        # (which turned "!!!" into an empty cursor, a valid key for a text-sorted list).
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        if not text:
            raise ValueError("empty cursor")
        return parse(text)
    except (ValueError, UnicodeDecodeError):
        raise ValidationProblem("cursor is not one this API issued", field=field) from None
