"""What several slices of forecast-svc share: the table metadata and the plumbing tables."""
