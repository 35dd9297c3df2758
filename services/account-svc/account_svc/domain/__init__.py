"""Not a slice: only `names`, re-exported for migration 0002. Each slice keeps its own domain."""
