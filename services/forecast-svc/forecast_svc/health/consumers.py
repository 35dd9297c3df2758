"""Handlers of the funnel-health and attainment slice (team-svc quota events)."""
HANDLERS: dict = {}
