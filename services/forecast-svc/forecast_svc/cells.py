"""The roll-up cells: every node's subtree totals, kept exact by integer deltas.

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

from sqlalchemy import Table, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .models import hierarchy_version
from .models import opportunity_facts as facts
from .models import rollup_cells as cells

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


def cell_deltas(changes: list[tuple[dict | None, dict]], chains: dict[uuid.UUID, list[uuid.UUID]]
                ) -> dict[tuple, list[int]]:
    """Net change per cell for (old fact or None, new fact) pairs, each counted in every node of
    its owner's chain (owner first). Pure integer arithmetic: exact."""
    deltas: dict[tuple, list[int]] = {}
    for old, new in changes:
        for fact, sign in ((old, -1), (new, +1)):
            if fact is None:
                continue
            c = contribution(fact)
            amount, weighted = sign * c.amount_cents, sign * c.amount_cents * c.probability
            for node in chains.get(c.owner_id, [c.owner_id]):
                key = c.key(node)
                d = deltas.get(key)
                if d is None:
                    deltas[key] = [sign, amount, weighted]
                else:
                    d[0] += sign
                    d[1] += amount
                    d[2] += weighted
    return {k: v for k, v in deltas.items() if v != [0, 0, 0]}


def _insert(session: AsyncSession):
    return (postgresql if session.bind.dialect.name == "postgresql" else sqlite).insert(cells)


def _adding(stmt):
    """ON CONFLICT: add the incoming figures to the stored ones."""
    return stmt.on_conflict_do_update(index_elements=[cells.c[k] for k in CELL_KEY],
                                      set_={f: cells.c[f] + stmt.excluded[f] for f in FIGURES})


async def bump(session: AsyncSession, deltas: dict[tuple, list[int]]) -> None:
    if not deltas:
        return
    if session.bind.dialect.name == "postgresql":
        # One statement over arrays instead of an executemany of thousands of rows (a batch of 500
        # changes touches ~3,000 cells across the chains). The rows are locked in the key's order
        # (ORDER BY in the statement), one global order: concurrent transactions cannot deadlock.
        columns = list(zip(*(key + tuple(d) for key, d in deltas.items())))
        await session.execute(_BUMP_PG, dict(zip(_BUMP_PARAMS, (list(c) for c in columns))))
        return
    rows = [dict(zip(CELL_KEY, key), count=d[0], amount_cents=d[1], weighted_cents_x100=d[2])
            for key, d in deltas.items()]  # SQLite has one writer at a time: no order needed
    await session.execute(_adding(_insert(session)), rows)


_BUMP_PARAMS = ("node_id", "month", "currency", "status", "stage", "confirmed", "category_override", "count",
                "amount_cents", "weighted_cents_x100")
_BUMP_TYPES = ("uuid", "date", "varchar", "varchar", "int", "bool", "varchar", "bigint", "bigint", "bigint")
_BUMP_PG = text(f"""
    INSERT INTO {cells.name} ({", ".join(_BUMP_PARAMS)})
    SELECT * FROM unnest({", ".join(f"CAST(:{p} AS {t}[])" for p, t in zip(_BUMP_PARAMS, _BUMP_TYPES))})
    ORDER BY {", ".join(str(i + 1) for i in range(len(CELL_KEY)))}
    ON CONFLICT ({", ".join(CELL_KEY)}) DO UPDATE SET
    {", ".join(f"{f} = {cells.name}.{f} + excluded.{f}" for f in FIGURES)}""")


class ChainCache:
    """The user replica's superior map, kept in memory while `hierarchy_version` says it is
    current. The version is read in the caller's transaction, which holds the read-model lock
    shared, and every replica change bumps it under the exclusive lock: so a hit is never stale."""

    def __init__(self):
        self.version: int | None = None
        self.superior_of: dict[uuid.UUID, uuid.UUID | None] = {}

    async def superiors(self, session: AsyncSession, users: Table,
                        version: int | None = None) -> dict[uuid.UUID, uuid.UUID | None]:
        """`version`: the hierarchy version if the caller already read it in this transaction."""
        if version is None:
            version = await session.scalar(select(hierarchy_version.c.version).where(hierarchy_version.c.id == 1))
        if version is None or version != self.version:
            self.superior_of = dict((await session.execute(select(users.c.id, users.c.superior_id))).all())
            self.version = version
        return self.superior_of


async def hierarchy_changed(session: AsyncSession) -> None:
    await session.execute(update(hierarchy_version).where(hierarchy_version.c.id == 1)
                          .values(version=hierarchy_version.c.version + 1))


async def chains_of(session: AsyncSession, users: Table, owners: set[uuid.UUID],
                    cache: ChainCache, version: int | None = None) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Each owner's reporting chain, owner first. An owner the replica does not know yet is a
    chain of one; when their user event arrives, `shift` moves their totals up."""
    if not owners:
        return {}
    superior_of = await cache.superiors(session, users, version)
    chains = {}
    for owner in owners:
        chain, node = [owner], superior_of.get(owner)
        while node is not None and node not in chain and len(chain) < MAX_DEPTH:
            chain.append(node)
            node = superior_of.get(node)
        chains[owner] = chain
    return chains


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


async def chain_above(session: AsyncSession, users: Table, superior: uuid.UUID | None,
                      stop_at: uuid.UUID) -> list[uuid.UUID]:
    """`superior` and everyone above them (stopping before `stop_at`, which would be a cycle)."""
    chain: list[uuid.UUID] = []
    node = superior
    while node is not None and node != stop_at and node not in chain and len(chain) < MAX_DEPTH:
        chain.append(node)
        node = await session.scalar(select(users.c.superior_id).where(users.c.id == node))
    return chain


async def shift(session: AsyncSession, node: uuid.UUID, out_of: list[uuid.UUID], into: list[uuid.UUID]) -> None:
    """Move `node`'s totals (its whole subtree's) out of one chain of ancestors and into another."""
    common = set(out_of) & set(into)  # ancestors on both chains keep the totals: nothing to move
    for sign, chain in ((-1, out_of), (+1, into)):
        for ancestor in chain:
            if ancestor in common:
                continue
            figures = [(cells.c[f] * sign).label(f) for f in FIGURES]
            source = select(literal(ancestor, cells.c.node_id.type).label("node_id"),
                            *[cells.c[k] for k in CELL_KEY[1:]], *figures).where(cells.c.node_id == node)
            await session.execute(_adding(_insert(session).from_select(list(CELL_KEY) + list(FIGURES), source)))


async def recompute(session: AsyncSession, users: Table) -> None:
    """Every node's cells from the facts and the user replica, in SQL (a rebuild; caller holds the
    exclusive read-model lock and has emptied the cells)."""
    pg = session.bind.dialect.name == "postgresql"
    month = "date_trunc('month', f.close_date)::date" if pg else "date(f.close_date, 'start of month')"
    # closure(owner, node): every owner with itself and each of their ancestors; owners the
    # replica does not know count for themselves only (as the live path does).
    await session.execute(text(f"""
        WITH RECURSIVE closure(owner, node, depth) AS (
            SELECT id, id, 0 FROM {users.name}
            UNION ALL
            SELECT c.owner, u.superior_id, c.depth + 1 FROM closure c JOIN {users.name} u ON u.id = c.node
            WHERE u.superior_id IS NOT NULL AND u.superior_id <> c.owner AND c.depth < {MAX_DEPTH}
        ), owners AS (
            SELECT DISTINCT owner, node FROM closure
            UNION
            SELECT DISTINCT f.owner_id, f.owner_id FROM {facts.name} f
            WHERE NOT EXISTS (SELECT 1 FROM {users.name} u WHERE u.id = f.owner_id)
        )
        INSERT INTO {cells.name} (node_id, month, currency, status, stage, confirmed, category_override,
                                  count, amount_cents, weighted_cents_x100)
        SELECT o.node, {month}, f.currency, f.status, f.stage, f.confirmed, COALESCE(f.category_override, ''),
               count(*), sum(f.amount_cents), sum(f.amount_cents * f.probability)
        FROM {facts.name} f JOIN owners o ON o.owner = f.owner_id
        GROUP BY o.node, {month}, f.currency, f.status, f.stage, f.confirmed, COALESCE(f.category_override, '')
    """))
