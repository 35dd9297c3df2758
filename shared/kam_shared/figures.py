"""Latency figures the benchmarks print: one nearest-rank percentile and one summary, so two
benchmarks that report the same figure compute it the same way."""
from __future__ import annotations

import statistics


def pct(values: list[float], q: float) -> float:
    """The nearest-rank q-th percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> dict:
    """n, p50, p95, p99, max and mean in milliseconds of durations given in seconds (None when empty)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50": round(pct(ms, 50), 2), "p95": round(pct(ms, 95), 2), "p99": round(pct(ms, 99), 2),
            "max": round(max(ms), 2), "mean": round(statistics.fmean(ms), 2)}
