"""Unified social credit code (统一社会信用代码, GB 32100-2015): the natural key of a legal entity.

18 characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z). The 18th is a
check character over the first 17: c18 = 31 − (Σ wᵢ·value(cᵢ) mod 31), where 31 is written '0'.
Only the check character is verified here: the registration-authority and organisation-category
digits (c1, c2) have been extended over the years, and rejecting a real code is worse than
accepting an unusual one.
"""
from __future__ import annotations

import random
import unicodedata

from kam_shared.domain_errors import ValidationProblem

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
VALUE = {char: index for index, char in enumerate(ALPHABET)}


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (which must be from the alphabet)."""
    if len(first17) != 17:
        raise ValueError("a check character is computed over exactly 17 characters")
    total = sum(weight * VALUE[char] for weight, char in zip(WEIGHTS, first17, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def clean(raw: str) -> str:
    """What users type: lower case, stray spaces and hyphens, full-width characters."""

    return "".join(ch for ch in unicodedata.normalize("NFKC", raw).upper() if not ch.isspace() and ch != "-")


def problem_with(code: str) -> str | None:
    """Why a cleaned code is not a valid unified social credit code, or None when it is."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    wrong = sorted({ch for ch in code if ch not in VALUE})
    if wrong:
        return f"contains {', '.join(repr(c) for c in wrong)}; allowed are 0-9 and A-Y without I, O, S, V, Z"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r} but the first 17 characters give {expected!r}"
    return None


def validate(raw: str | None, field: str = "credit_code") -> str | None:
    """The canonical code (upper case, no spaces), None for blank, or a 422 naming the field."""
    if raw is None:
        return None
    code = clean(raw)
    if not code:
        return None
    why = problem_with(code)
    if why:
        raise ValidationProblem(f"{field} {raw!r} is not a valid unified social credit code: {why}", field=field)
    return code


def generate(rng: random.Random | None = None, *, prefix: str = "91") -> str:
    """A valid code (tests, benchmark, demo data): prefix, a 6-digit region code, a 9-character org code."""
    rng = rng or random.Random()
    body = prefix + "".join(rng.choice("0123456789") for _ in range(6))
    body += "".join(rng.choice(ALPHABET) for _ in range(17 - len(body)))
    return body + check_character(body)
