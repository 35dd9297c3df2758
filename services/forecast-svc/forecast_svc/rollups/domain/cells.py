"""The roll-up cells' arithmetic: every node's subtree totals, kept exact by integer deltas. Pure.

A cell holds, for one node of the hierarchy (a user), the figures of every opportunity owned
by that user or by anyone below them, per close month, currency, status, stage, confirmation
and forecast-category override. So a roll-up of any node and period reads a few dozen rows of
its own, whatever the size of its subtree (the top node's quarter is ~3 months × ~30 keys).

Writes pay instead: an opportunity change moves its contribution in the owner's cells and in
the cells of every ancestor (the owner's chain, 4-8 nodes). A hierarchy move shifts the moved
user's cells, which are exactly their subtree's totals, from the old chain to the new one. That
shift must not interleave with opportunity changes being applied against the old chain, so it
runs under the exclusive read-model lock (every event transaction holds it shared).
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

CELL_KEY = ("node_id", "month", "currency", "status", "stage", "confirmed", "category_override")
FIGURES = ("count", "amount_cents", "weighted_cents_x100")
NO_OVERRIDE = ""  # a primary-key column cannot be null: "" means "derived from the stage"
MAX_DEPTH = 32  # a guard against a cycle in a half-replicated hierarchy


@dataclass(frozen=True)
class Contribution:
    """What one opportunity adds to its owner's cells (and so to each ancestor's)."""
    owner_id: uuid.UUID
    month: dt.date
    currency: str
    status: str
    stage: int
    confirmed: bool
    category_override: str
    amount_cents: int
    probability: int

    def key(self, node: uuid.UUID) -> tuple:
        return (node, self.month, self.currency, self.status, self.stage, self.confirmed, self.category_override)


def contribution(fact: dict) -> Contribution:
    return Contribution(owner_id=fact["owner_id"], month=fact["close_date"].replace(day=1), currency=fact["currency"],
                        status=fact["status"], stage=fact["stage"], confirmed=bool(fact.get("confirmed", False)),
                        category_override=fact.get("category_override") or NO_OVERRIDE,
                        amount_cents=fact["amount_cents"], probability=fact["probability"])


def _add(deltas: dict[tuple, list[int]], key: tuple, sign: int, amount: int, weighted: int) -> None:
    d = deltas.get(key)
    if d is None:
        deltas[key] = [sign, amount, weighted]
    else:
        d[0] += sign
        d[1] += amount
        d[2] += weighted


def cell_deltas(changes: list[tuple[dict | None, dict]], chains: dict[uuid.UUID, list[uuid.UUID]],
                by_account: dict[uuid.UUID, list[uuid.UUID]] | None = None) -> dict[tuple, list[int]]:
    """Net change per cell for (old fact or None, new fact) pairs, each counted in every node of
    its owner's chain (owner first; with the owner's org units) and in the territories covering
    its account (`by_account`). Pure integer arithmetic: exact."""
    deltas: dict[tuple, list[int]] = {}
    by_account = by_account or {}
    for old, new in changes:
        for fact, sign in ((old, -1), (new, +1)):
            if fact is None:
                continue
            c = contribution(fact)
            amount, weighted = sign * c.amount_cents, sign * c.amount_cents * c.probability
            for node in chains.get(c.owner_id, [c.owner_id]) + by_account.get(fact["account_id"], []):
                _add(deltas, c.key(node), sign, amount, weighted)
    return {k: v for k, v in deltas.items() if v != [0, 0, 0]}


def chain_of(superior_of: dict, owner: uuid.UUID) -> list[uuid.UUID]:
    """The owner's reporting chain, owner first (stopping on a cycle or at MAX_DEPTH)."""
    chain, node = [owner], superior_of.get(owner)
    while node is not None and node not in chain and len(chain) < MAX_DEPTH:
        chain.append(node)
        node = superior_of.get(node)
    return chain


def parent_chain(parent_of: dict, start: uuid.UUID | None) -> list[uuid.UUID]:
    """`start` and its ancestors in a tree of org units or territories ([] for None)."""
    return [] if start is None else chain_of(parent_of, start)


def has_loop(superior_of: dict, starts) -> bool:
    """Does walking up from any of `starts` come back to a node already passed (a cycle)?"""
    for start in starts:
        seen, node = {start}, superior_of.get(start)
        while node is not None:
            if node in seen or len(seen) > MAX_DEPTH:
                return True
            seen.add(node)
            node = superior_of.get(node)
    return False


def newest_states(states) -> dict:
    """The newest (highest `version`) of each aggregate's states, by id, from a run of events."""
    newest: dict[uuid.UUID, object] = {}
    for state in states:
        if state.id not in newest or state.version > newest[state.id].version:
            newest[state.id] = state
    return newest
