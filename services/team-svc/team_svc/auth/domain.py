"""Sliding-window rate limiting for sign-in (pure: the clock is passed in, e.g. time.monotonic).

Each key (an email, a client address) keeps the times of its recent attempts; when `limit`
attempts fall inside the last `window_s` seconds the next one waits until the oldest leaves
the window. Counters live in the process: with several replicas each enforces its own limit.
"""
from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_s: float, clock: Callable[[], float],
                 max_keys: int = 100_000):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until `key` may try again; None when it may try now."""
        if self.limit <= 0:
            return None
        now = self.clock()
        hits = self._recent(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        return max(1, math.ceil(hits[0] + self.window_s - now))

    def hit(self, key: str) -> None:
        now = self.clock()
        hits = self._recent(key, now)
        if hits is None:
            hits = self._hits[key] = deque()
        hits.append(now)
        self._hits.move_to_end(key)
        if len(self._hits) > self.max_keys:
            self._evict(now)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def _evict(self, now: float) -> None:
        """Memory stays bounded under a spray of distinct keys: drop expired keys, then the stalest."""
        for key in list(self._hits):
            self._recent(key, now)
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)

    def __len__(self) -> int:
        return len(self._hits)
