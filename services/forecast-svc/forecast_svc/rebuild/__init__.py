"""Rebuild of the read models from the owners' HTTP snapshots: orchestrates the roll-up and health slices."""
