"""Forecast periods and team-svc's fiscal calendar (replicated), shared by every slice that reads a period."""
