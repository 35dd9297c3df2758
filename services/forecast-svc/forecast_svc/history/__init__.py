"""Forecast history: GET /v1/forecast-history (the roll-up at each day or week end, and the submitted versions)."""
