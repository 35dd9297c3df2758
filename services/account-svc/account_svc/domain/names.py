"""Kept for migration 0002, which imports `account_svc.domain.names` (migrations are never edited).
The rule lives in the accounts slice: `account_svc.accounts.domain.names`."""
from account_svc.accounts.domain.names import normalise, search_key, similarity, trigrams  # noqa: F401
