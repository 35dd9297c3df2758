"""The exchange-rate rules, pure: which rate is in force, planning rates, inverse pairs, refusals."""
import datetime as dt
from decimal import Decimal

import pytest

from forecast_svc.rates.domain import Converter, fiscal_quarter_start, validate_rates
from kam_shared.domain_errors import ValidationProblem

RATES = [{"from_currency": "USD", "to_currency": "CNY", "effective_date": dt.date(2026, 1, 1), "rate": "7.00"},
         {"from_currency": "USD", "to_currency": "CNY", "effective_date": dt.date(2026, 5, 1), "rate": "7.50"}]


def test_each_month_converts_at_the_rate_in_force_on_it():
    c = Converter("CNY", RATES)
    assert c.convert(dt.date(2026, 4, 1), "USD", 1, 100_00, 0) == (700_00, 0)
    assert c.convert(dt.date(2026, 5, 1), "USD", 1, 100_00, 50 * 100_00) == (750_00, 50 * 750_00)
    assert c.convert(dt.date(2025, 12, 1), "USD", 1, 100_00, 0) is None and c.missing == {"USD"}
    assert [(u["rate"], u["months"]) for u in c.rates_used()] == [
        ("7.00", [dt.date(2026, 4, 1)]), ("7.50", [dt.date(2026, 5, 1)])]


def test_a_planning_rate_holds_for_the_whole_fiscal_quarter():
    assert fiscal_quarter_start(dt.date(2026, 6, 1), 4) == dt.date(2026, 4, 1)
    assert fiscal_quarter_start(dt.date(2026, 2, 1), 4) == dt.date(2026, 1, 1)
    c = Converter("CNY", RATES, basis="fiscal_quarter", fiscal_start_month=1)
    assert c.convert(dt.date(2026, 5, 1), "USD", 1, 100_00, 0) == (700_00, 0)  # Q2 started at 7.00


def test_the_inverse_pair_converts_the_other_way():
    c = Converter("USD", RATES)
    assert c.convert(dt.date(2026, 6, 1), "CNY", 1, 750_00, 0) == (100_00, 0)
    assert c.rates_used()[0]["inverse"] is True


@pytest.mark.parametrize("rate, day, field", [(Decimal("0"), 1, "0.rate"), (Decimal("-2"), 1, "0.rate"),
                                              (Decimal("7"), 2, "0.effective_date")])
def test_bad_rates_name_their_field(rate, day, field):
    with pytest.raises(ValidationProblem) as raised:
        validate_rates([{"from_currency": "USD", "to_currency": "CNY", "rate": rate,
                         "effective_date": dt.date(2026, 1, day)}])
    assert field in str(raised.value.__dict__)
