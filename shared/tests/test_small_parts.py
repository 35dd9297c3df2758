import uuid
from decimal import Decimal

import pytest

from kam_shared.app import check_if_match
from kam_shared.errors import PreconditionFailed, ValidationProblem
from kam_shared.money import from_cents, money_str, to_cents, validate_currency
from kam_shared.pagination import decode_cursor, encode_cursor


def test_money_round_trips_through_cents_exactly():
    for text in ("0.00", "0.01", "100000.00", "99999999999999.99"):
        assert from_cents(to_cents(Decimal(text))) == Decimal(text)
    assert to_cents(Decimal("12.345")) == 1235  # half-up, as on an invoice
    assert money_str(Decimal("125000")) == "125000.00"


def test_currency_must_be_iso_4217():
    assert validate_currency("cny") == "CNY"
    with pytest.raises(ValidationProblem) as err:
        validate_currency("XYZ")
    assert err.value.field == "currency"


def test_cursor_round_trip_and_tampering():
    value = uuid.uuid4()
    assert decode_cursor(encode_cursor(str(value)), uuid.UUID) == value
    with pytest.raises(ValidationProblem):
        decode_cursor("not-a-cursor!!", uuid.UUID)


def test_if_match_accepts_current_version_only():
    check_if_match(None, 3)
    check_if_match('"3"', 3)
    check_if_match('W/"3"', 3)
    with pytest.raises(PreconditionFailed):
        check_if_match('"2"', 3)


async def test_verifier_caches_only_until_the_token_expires():
    import time as _time

    from kam_shared.auth import TokenVerifier
    from kam_shared.errors import Unauthorized
    from kam_shared.settings import ServiceSettings
    from kam_shared.testing import jwks_json_for_tests, token_for

    verifier = TokenVerifier(ServiceSettings(kam_jwks_json=jwks_json_for_tests()))
    user = uuid.uuid4()
    token = token_for(user, "manager")
    first = await verifier.verify(token)
    assert (first.user_id, first.role) == (user, "manager")
    assert await verifier.verify(token) is first  # served from the cache
    from kam_shared.auth import Principal

    stale = Principal(user_id=uuid.uuid4(), role="admin", email="stale")
    verifier._verified[token] = (stale, _time.time() - 1)  # a cache entry past its token's expiry
    assert (await verifier.verify(token)).user_id == user  # verified again, not served stale
    with pytest.raises(Unauthorized):
        await verifier.verify(token_for(user, "manager", lifetime_s=-10))


async def test_service_connections_to_postgresql_plan_without_jit():
    """A service's statements are short; LLVM compilation of one that crosses jit_above_cost took
    longer than the statement (kam_shared.db)."""
    from sqlalchemy import text

    from kam_shared.db import Database
    from kam_shared.testing import fresh_database, postgres_available

    if not postgres_available():
        pytest.skip("PostgreSQL only: SQLite has no JIT")
    async with fresh_database("jit") as url:
        db = Database(url)
        try:
            async with db.read_session() as session:
                settings = dict((await session.execute(text(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('jit', 'plan_cache_mode')"))).all())
        finally:
            await db.dispose()
    assert settings == {"jit": "off", "plan_cache_mode": "force_custom_plan"}
