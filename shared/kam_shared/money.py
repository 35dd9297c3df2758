"""Money: Decimal amounts with an ISO 4217 currency; never float."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Active ISO 4217 alphabetic codes (list maintained by SIX on behalf of ISO).
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP
STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG
XOF XPF YER ZAR ZMW ZWG
""".split())

CENT = Decimal("0.01")


def money_str(amount: Decimal) -> str:
    """Amounts leave the API as decimal strings with two places: "125000.00"."""
    return str(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP))


def to_cents(amount: Decimal) -> int:
    """Amounts are stored as integer hundredths so SUM() is exact on SQLite as well as PostgreSQL."""
    return int(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP) * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(CENT)


def validate_currency(code: str) -> str:
    from .errors import ValidationProblem

    code = code.strip().upper()
    if code not in ISO_4217:
        raise ValidationProblem(f"currency {code!r} is not an ISO 4217 code", field="currency")
    return code


# API type: accepts a JSON number or string, never negative, two decimals; leaves as "125000.00".
def _money_field():
    from typing import Annotated

    from pydantic import Field, PlainSerializer

    return Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2),
                     PlainSerializer(money_str, return_type=str, when_used="json")]


Money = _money_field()


# The same for signed amounts (an adjustment's delta, a difference): may be negative.
def _signed_money_field():
    from typing import Annotated

    from pydantic import Field, PlainSerializer

    return Annotated[Decimal, Field(max_digits=16, decimal_places=2),
                     PlainSerializer(money_str, return_type=str, when_used="json")]


SignedMoney = _signed_money_field()
