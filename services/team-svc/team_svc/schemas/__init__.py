"""API models of team-svc, one module per feature. Request bodies forbid unknown fields."""
