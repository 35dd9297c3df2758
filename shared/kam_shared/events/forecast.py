"""Events of forecast-svc on `kam.forecast.events` (none yet: forecast submission adds them)."""
from __future__ import annotations

from .base import register  # noqa: F401  (forecast events register here)
