"""What changed since: GET /v1/pipeline-changes (the waterfall from a past instant to now)."""
