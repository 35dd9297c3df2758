import datetime as dt

from kam_shared.demo import _quarter_end


def test_quarter_end_walks_across_years():
    today = dt.date(2026, 11, 23)
    assert _quarter_end(today, 0) == dt.date(2026, 12, 28)
    assert _quarter_end(today, 1) == dt.date(2027, 3, 28)
    assert _quarter_end(today, -1) == dt.date(2026, 9, 28)
    assert _quarter_end(today, 5) == dt.date(2028, 3, 28)


def test_an_imported_journey_happens_in_order_before_now_and_closes_last():
    import random

    from kam_shared.demo import _journey

    rng = random.Random(7)
    now = dt.datetime(2026, 11, 23, 12, tzinfo=dt.timezone.utc)
    closed = opened = 0
    for _ in range(300):
        start = now.date() - dt.timedelta(days=rng.randint(30, 365))
        steps = _journey(rng, start, start + dt.timedelta(days=rng.randint(25, 120)), now)
        times = [dt.datetime.fromisoformat(s["at"]) for s in steps]
        assert times == sorted(times) and len(set(times)) == len(times) and all(t < now for t in times)
        assert all(t.date() >= start for t in times)
        ends = [i for i, s in enumerate(steps) if "outcome" in s]
        assert ends in ([], [len(steps) - 1])
        closed, opened = closed + bool(ends), opened + (not ends)
        for step in steps:
            if step.get("outcome") == "lost" and step["reason"] not in ("no_decision", "cancelled"):
                assert step["competitor"]
    assert closed > 100 and opened > 10
