"""What several slices of account-svc share: the MetaData and plumbing tables, the typed runtime,
the user directory (owner and reference checks), the closed vocabularies, request helpers."""
