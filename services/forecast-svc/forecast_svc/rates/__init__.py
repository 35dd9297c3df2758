"""Corporate exchange rates (PUT/GET /v1/exchange-rates) and the conversion roll-ups use."""
