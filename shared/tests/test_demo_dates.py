import datetime as dt

from kam_shared.demo import _quarter_end


def test_quarter_end_walks_across_years():
    today = dt.date(2026, 11, 23)
    assert _quarter_end(today, 0) == dt.date(2026, 12, 28)
    assert _quarter_end(today, 1) == dt.date(2027, 3, 28)
    assert _quarter_end(today, -1) == dt.date(2026, 9, 28)
    assert _quarter_end(today, 5) == dt.date(2028, 3, 28)
