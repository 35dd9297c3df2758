"""The cycle collector, tuned for a long-running service.

CPython's full (generation 2) collection walks every tracked object of the process. A service's
start-up leaves a few hundred thousand of them (modules, FastAPI routes, pydantic and SQLAlchemy
models, OpenTelemetry instrumentation) that live as long as the process, and with the default
thresholds (700, 10, 10) a busy service ran a full collection every few seconds: measured on
bench/forecast_scale.py, forecast-svc's took 130–270 ms each (210 of them, 30 s in all, in one
run), opportunity-svc's ~130 ms. Whichever request or event batch was in flight waited for it,
which was most of the p99 tail of the pipeline-changes, forecast-history and prediction reads
(p99 2-3x their p50) and part of stage change → roll-up's.

So, once a service has started:
- everything alive is moved to the permanent generation (`gc.freeze()`), which collections never
  walk. Those objects are freed by reference counting as before; only a reference cycle among
  them would never be collected, and start-up objects stay for the process's life anyway;
- the young generation is collected after YOUNG_THRESHOLD net allocations instead of 700, so
  that the objects of one request or batch mostly die young instead of being promoted half-way
  through it and walked again by the older generations' collections. At 20,000 a young
  collection took 15-30 ms (bench/event_latency.py), itself a stall; 5,000 keeps it to a few.
"""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 5_000
OLDER_THRESHOLDS = (10, 10)
_settled = False


def settle_after_startup() -> None:
    """Collect what start-up left as garbage, freeze the rest, and set the thresholds; once per
    process (a test process starts many apps, and what a stopped app leaves is not start-up)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
