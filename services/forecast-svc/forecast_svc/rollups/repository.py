"""All SQL of the roll-up slice: the opportunity facts, the roll-up cells and the replicas they
are computed with (stage probabilities, the hierarchy's version). The arithmetic is pure and
lives in domain/cells.py; this module only reads and writes rows."""
from __future__ import annotations

import uuid

from sqlalchemy import Date, Table, and_, cast, delete, func, literal, or_, select, text, update
from sqlalchemy.sql.elements import BindParameter

from kam_shared.hierarchy import subtree_cte
from kam_shared.replicas import upsert_versioned, upsert_versioned_many
from kam_shared.repository import Repository

from ..categories.models import category_mapping
from .domain.cells import CELL_KEY, FIGURES, MAX_DEPTH, chain_of, parent_chain
from .domain.history import history_row
from .domain.rows import covering_territory, rule_book
from .models import (
    STATE_COLUMNS,
    account_territories,
    hierarchy_version,
    history_horizon,
    org_unit_replica,
    stage_probabilities,
    territory_replica,
    user_org_units,
)
from .models import opportunity_facts as facts
from .models import opportunity_history as history
from .models import rollup_cells as cells

_BUMP_PARAMS = ("node_id", "month", "currency", "status", "stage", "confirmed", "category_override", "count",
                "amount_cents", "weighted_cents_x100")
_BUMP_TYPES = ("uuid", "date", "varchar", "varchar", "int", "bool", "varchar", "bigint", "bigint", "bigint")
_BUMP_PG = text(f"""
    INSERT INTO {cells.name} ({", ".join(_BUMP_PARAMS)})
    SELECT * FROM unnest({", ".join(f"CAST(:{p} AS {t}[])" for p, t in zip(_BUMP_PARAMS, _BUMP_TYPES, strict=True))})
    ORDER BY {", ".join(str(i + 1) for i in range(len(CELL_KEY)))}
    ON CONFLICT ({", ".join(CELL_KEY)}) DO UPDATE SET
    {", ".join(f"{f} = {cells.name}.{f} + excluded.{f}" for f in FIGURES)}""")

_CELL_GROUP = (cells.c.currency, cells.c.status, cells.c.stage, cells.c.confirmed, cells.c.category_override)


def owners_of(users: Table, kind: str, root: uuid.UUID | BindParameter):
    """The owners a node of `kind` (user or org_unit) covers, as a selectable with one column `id`:
    for a user, they and everyone below them in the replicated hierarchy (`users`); for an org unit,
    everyone in it or in a unit below it (the owners its roll-up cells hold). `root` is the node's
    id, or a bind parameter for a statement built once for every node of that kind."""
    if kind == "user":
        return subtree_cte(users, root)
    return RollupRepository.unit_members_cte(root)


class RollupRepository(Repository):
    # ------------------------------------------------------------------ reads of a roll-up
    async def rollup_context(self, users: Table, node: uuid.UUID) -> list:
        """What every roll-up needs besides the cells, in one read: the stage mapping and which
        kind of node it is: `known` (a user), `unit` (an org unit) or `territory`, each None when
        the node is not one."""
        return (await self.session.execute(select(category_mapping.c.stage, category_mapping.c.category,
                                                  *self._kinds(users, node)))).all()

    @staticmethod
    def as_of_now(status: Table, service_name: str):
        """The time of the last event applied, as a scalar subquery to read in the same statement
        as the figures it dates."""
        return select(status.c.last_event_time).where(status.c.name == service_name).scalar_subquery()

    async def node_context(self, users: Table, node: uuid.UUID) -> list:
        """Which kind of node `node` is (one row: known, unit, territory)."""
        return (await self.session.execute(select(*self._kinds(users, node)))).all()

    @staticmethod
    def _kinds(users: Table, node: uuid.UUID) -> list:
        known = select(users.c.id).where(users.c.id == node).scalar_subquery()
        unit = select(org_unit_replica.c.id).where(org_unit_replica.c.id == node).scalar_subquery()
        territory = select(territory_replica.c.id).where(territory_replica.c.id == node).scalar_subquery()
        return [known.label("known"), unit.label("unit"), territory.label("territory")]

    async def node_cells(self, node: uuid.UUID, start, end, as_of) -> tuple[list, object]:
        """Every currency's cells of the node for the months [start, end), summed per month and key
        (a few dozen rows a month): (month, currency, status, stage, confirmed, override, count,
        cents, weighted); and `as_of` (see as_of_now), read in the same statement. A read session
        runs each statement on its own snapshot, so an `as_of` read in another statement could date
        figures that a batch committed in between has already changed. The cells are joined to the
        one-row `as_of`, so that even a node with no cells gets its `as_of` from this snapshot."""
        now = select(as_of.label("as_of")).subquery("now")
        rows = (await self.session.execute(
            select(cells.c.month, *_CELL_GROUP, func.sum(cells.c.count), func.sum(cells.c.amount_cents),
                   func.sum(cells.c.weighted_cents_x100), now.c.as_of)
            .select_from(now.outerjoin(cells, and_(cells.c.node_id == node, cells.c.month >= start,
                                                   cells.c.month < end)))
            .group_by(cells.c.month, *_CELL_GROUP, now.c.as_of))).all()
        return [r[:9] for r in rows if r[0] is not None], rows[0].as_of

    @staticmethod
    def unit_members_cte(unit: uuid.UUID | BindParameter, name: str = "tree"):
        """Everyone whose org unit is `unit` or a unit below it, as a CTE with one column `id` (each
        user once): exactly the owners whose opportunities the unit's cells hold (an owner's
        contributions go up their unit's chain). `unit` may be a bind parameter (subtree_cte)."""
        unit = unit if isinstance(unit, BindParameter) else literal(unit, org_unit_replica.c.id.type)
        units = select(unit.label("id")).cte(f"{name}_units", recursive=True)
        units = units.union(select(org_unit_replica.c.id).where(org_unit_replica.c.parent_id == units.c.id))
        return (select(user_org_units.c.id.label("id"))
                .where(user_org_units.c.org_unit_id.in_(select(units.c.id))).cte(name))

    async def unit_path(self, unit: uuid.UUID) -> list:
        """The org unit and the units above it: (id, manager_id), the unit first."""
        path, node = [], unit
        while node is not None and len(path) < MAX_DEPTH and all(r.id != node for r in path):
            row = (await self.session.execute(select(org_unit_replica.c.id, org_unit_replica.c.manager_id,
                                                     org_unit_replica.c.parent_id)
                                              .where(org_unit_replica.c.id == node))).first()
            if row is None:
                break
            path.append(row)
            node = row.parent_id
        return path

    async def unit_of_user(self, user: uuid.UUID) -> uuid.UUID | None:
        return await self.session.scalar(select(user_org_units.c.org_unit_id).where(user_org_units.c.id == user))

    async def territory(self, territory: uuid.UUID):
        return (await self.session.execute(select(territory_replica.c.owner_id, territory_replica.c.org_unit_id)
                                           .where(territory_replica.c.id == territory))).first()

    async def user_known(self, users: Table, node: uuid.UUID) -> bool:
        return await self.session.scalar(select(users.c.id).where(users.c.id == node)) is not None

    async def owned_facts(self, owner_id: uuid.UUID, currency: str, start, end, confirmed_only: bool) -> list:
        query = select(facts).where(facts.c.owner_id == owner_id, facts.c.currency == currency,
                                    facts.c.close_date >= start, facts.c.close_date < end)
        if confirmed_only:
            query = query.where(facts.c.confirmed.is_(True))
        return (await self.session.execute(query.order_by(facts.c.close_date, facts.c.id))).mappings().all()

    # ------------------------------------------------------------------ facts and the stage model
    async def stage_model_and_hierarchy(self) -> tuple[dict[int, int], int | None]:
        """The stage probabilities and the hierarchy's version in one read."""
        hierarchy_now = select(hierarchy_version.c.version).where(hierarchy_version.c.id == 1).scalar_subquery()
        model = (await self.session.execute(select(stage_probabilities.c.stage, stage_probabilities.c.probability,
                                                   hierarchy_now.label("hierarchy")))).all()
        return {r.stage: r.probability for r in model}, (model[0].hierarchy if model else None)

    async def facts_for_update(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
        query = self.for_update(select(facts).where(self.among(facts.c.id, ids)))
        return {r["id"]: dict(r) for r in (await self.session.execute(query)).mappings().all()}

    async def save_facts(self, rows: list[dict]) -> None:
        await upsert_versioned_many(self.session, facts, rows)

    async def stage_model_version(self) -> int | None:
        return await self.session.scalar(select(func.max(stage_probabilities.c.version)))

    async def stage_probability_map(self) -> dict[int, int]:
        return dict((await self.session.execute(
            select(stage_probabilities.c.stage, stage_probabilities.c.probability))).all())

    async def reweight_stage(self, stage: int, probability: int, at=None) -> None:
        """Every open fact in the stage, and exactly their cells, carry the stage's probability (and
        the state history records the change at `at`)."""
        reweighted = and_(facts.c.status == "open", facts.c.stage == stage, facts.c.probability != probability)
        if at is None:
            await self.session.execute(update(facts).where(reweighted).values(probability=probability))
        else:
            await self.append_reweighted_history(stage, probability, at)
            await self.session.execute(update(facts).where(reweighted).values(
                probability=probability, state_valid_from=literal(at, facts.c.state_valid_from.type)))
        await self.session.execute(update(cells).where(cells.c.status == "open", cells.c.stage == stage)
                                   .values(weighted_cents_x100=cells.c.amount_cents * probability))

    async def save_stage_probability(self, stage: int, probability: int, version: int) -> None:
        await upsert_versioned(self.session, stage_probabilities,
                               dict(stage=stage, probability=probability, version=version), key="stage")

    # ------------------------------------------------------------------ the user replica and the hierarchy
    async def users_before(self, users: Table, ids: list[uuid.UUID]) -> dict:
        return {r.id: r for r in (await self.session.execute(
            select(users.c.id, users.c.superior_id, users.c.version).where(users.c.id.in_(ids)))).all()}

    async def superior_map(self, users: Table) -> dict[uuid.UUID, uuid.UUID | None]:
        return dict((await self.session.execute(select(users.c.id, users.c.superior_id))).all())

    async def hierarchy_version(self) -> int | None:
        return await self.session.scalar(select(hierarchy_version.c.version).where(hierarchy_version.c.id == 1))

    async def hierarchy_changed(self) -> None:
        await self.session.execute(update(hierarchy_version).where(hierarchy_version.c.id == 1)
                                   .values(version=hierarchy_version.c.version + 1))

    async def nodes_with_totals(self, nodes: list[uuid.UUID]) -> set[uuid.UUID]:
        if not nodes:
            return set()
        return set((await self.session.scalars(
            select(cells.c.node_id).distinct().where(cells.c.node_id.in_(nodes)))).all())

    async def save_users(self, users: Table, rows: list[dict]) -> None:
        await upsert_versioned_many(self.session, users, rows)

    async def save_user(self, users: Table, row: dict) -> None:
        await upsert_versioned(self.session, users, row)

    async def chains_of(self, users: Table, owners: set[uuid.UUID], cache: ChainCache,
                        version: int | None = None) -> dict[uuid.UUID, list[uuid.UUID]]:
        """Each owner's reporting chain, owner first. An owner the replica does not know yet is a
        chain of one; when their user event arrives, `shift` moves their totals up."""
        if not owners:
            return {}
        superior_of = await cache.superiors(self, users, version)
        return {owner: chain_of(superior_of, owner) + parent_chain(cache.unit_parent, cache.unit_of.get(owner))
                for owner in owners}

    async def territory_chains(self, accounts: set[uuid.UUID], cache: ChainCache) -> dict[uuid.UUID, list[uuid.UUID]]:
        """The territory covering each account and the territories above it (after `chains_of`,
        which brought the cache up to date in this transaction)."""
        if not accounts:
            return {}
        covered = await self.territories_of(list(accounts))
        return {a: parent_chain(cache.territory_parent, t) for a, t in covered.items()}

    async def chain_above(self, users: Table, superior: uuid.UUID | None, stop_at: uuid.UUID,
                          parent: str = "superior_id") -> list[uuid.UUID]:
        """`superior` and everyone above them (stopping before `stop_at`, which would be a cycle);
        `parent` names the column of the tree (users' superior, org units' and territories' parent)."""
        chain: list[uuid.UUID] = []
        node = superior
        while node is not None and node != stop_at and node not in chain and len(chain) < MAX_DEPTH:
            chain.append(node)
            node = await self.session.scalar(select(users.c[parent]).where(users.c.id == node))
        return chain

    # ------------------------------------------------------------------ the state history
    async def append_history(self, rows: list[dict]) -> None:
        """Append states (a redelivered one is already there: nothing happens)."""
        if rows:
            await self.session.execute(self.insert(history).on_conflict_do_nothing(), rows)

    async def append_reweighted_history(self, stage: int, probability: int, at) -> None:
        """Before a stage is re-weighted: its open facts' states with the new probability, valid
        from the model change, each replacing the same state with the old probability."""
        state = [facts.c[k] for k in STATE_COLUMNS if k != "probability"]
        columns = ["opportunity_id", "valid_from", "version", *[c.name for c in state], "probability",
                   *[f"prev_{c.name}" for c in state], "prev_probability", "prev_valid_from"]
        source = select(facts.c.id, literal(at, history.c.valid_from.type), facts.c.version, *state,
                        literal(probability), *state, facts.c.probability, facts.c.state_valid_from
                        ).where(facts.c.status == "open", facts.c.stage == stage, facts.c.probability != probability)
        await self.session.execute(self.insert(history).from_select(columns, source).on_conflict_do_nothing())

    # ------------------------------------------------------------------ writing cells
    def _adding(self, stmt):
        """ON CONFLICT: add the incoming figures to the stored ones."""
        return stmt.on_conflict_do_update(index_elements=[cells.c[k] for k in CELL_KEY],
                                          set_={f: cells.c[f] + stmt.excluded[f] for f in FIGURES})

    async def bump(self, deltas: dict[tuple, list[int]]) -> None:
        if not deltas:
            return
        if self.postgres:
            # One statement over arrays instead of an executemany of thousands of rows (a batch of 500
            # changes touches ~3,000 cells across the chains). The rows are locked in the key's order
            # (ORDER BY in the statement), one global order: concurrent transactions cannot deadlock.
            columns = list(zip(*(key + tuple(d) for key, d in deltas.items()), strict=True))
            await self.session.execute(_BUMP_PG, dict(zip(_BUMP_PARAMS, (list(c) for c in columns), strict=True)))
            return
        rows = [dict(zip(CELL_KEY, key, strict=True), count=d[0], amount_cents=d[1], weighted_cents_x100=d[2])
                for key, d in deltas.items()]  # SQLite has one writer at a time: no order needed
        await self.session.execute(self._adding(self.insert(cells)), rows)

    async def shift(self, node: uuid.UUID, out_of: list[uuid.UUID], into: list[uuid.UUID]) -> None:
        """Move `node`'s totals (its whole subtree's) out of one chain of ancestors and into another."""
        common = set(out_of) & set(into)  # ancestors on both chains keep the totals: nothing to move
        for sign, chain in ((-1, out_of), (+1, into)):
            for ancestor in chain:
                if ancestor in common:
                    continue
                figures = [(cells.c[f] * sign).label(f) for f in FIGURES]
                source = select(literal(ancestor, cells.c.node_id.type).label("node_id"),
                                *[cells.c[k] for k in CELL_KEY[1:]], *figures).where(cells.c.node_id == node)
                await self.session.execute(self._adding(
                    self.insert(cells).from_select(list(CELL_KEY) + list(FIGURES), source)))

    async def clear_cells(self) -> None:
        await self.session.execute(delete(cells))

    async def recompute(self, users: Table) -> None:
        """Every node's cells from the facts and the user replica, in SQL (a rebuild; caller holds the
        exclusive read-model lock and has emptied the cells)."""
        month = "date_trunc('month', f.close_date)::date" if self.postgres else "date(f.close_date, 'start of month')"
        # closure(owner, node): every owner with itself and each of their ancestors; owners the
        # replica does not know count for themselves only (as the live path does).
        await self.session.execute(text(f"""
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
        await self.recompute_units()
        await self.recompute_territories()

    def _month_sql(self) -> str:
        return "date_trunc('month', f.close_date)::date" if self.postgres else "date(f.close_date, 'start of month')"

    def _closure_sql(self, tree: Table, name: str) -> str:
        """(start, node): every node of a tree with itself and each of its ancestors."""
        return f"""{name}(start, node, depth) AS (
                SELECT id, id, 0 FROM {tree.name}
                UNION ALL
                SELECT c.start, p.parent_id, c.depth + 1 FROM {name} c JOIN {tree.name} p ON p.id = c.node
                WHERE p.parent_id IS NOT NULL AND p.parent_id <> c.start AND c.depth < {MAX_DEPTH})"""

    def _insert_cells_sql(self, members: str, on: str) -> str:
        month = self._month_sql()
        return f"""
            INSERT INTO {cells.name} (node_id, month, currency, status, stage, confirmed, category_override,
                                      count, amount_cents, weighted_cents_x100)
            SELECT o.node, {month}, f.currency, f.status, f.stage, f.confirmed, COALESCE(f.category_override, ''),
                   count(*), sum(f.amount_cents), sum(f.amount_cents * f.probability)
            FROM {facts.name} f JOIN {members} o ON o.{on} = f.{on}
            GROUP BY o.node, {month}, f.currency, f.status, f.stage, f.confirmed, COALESCE(f.category_override, '')"""

    async def recompute_units(self) -> None:
        """Every org unit's cells: the facts of the users whose unit is it or below it (a unit the
        replica does not know yet counts for itself only, as the live path does). Cells emptied."""
        units, members = org_unit_replica.name, user_org_units.name
        await self.session.execute(text(f"""
            WITH RECURSIVE {self._closure_sql(org_unit_replica, "uc")},
            members AS (
                SELECT DISTINCT m.id AS owner_id, uc.node FROM {members} m JOIN uc ON uc.start = m.org_unit_id
                UNION
                SELECT m.id, m.org_unit_id FROM {members} m WHERE m.org_unit_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM {units} u WHERE u.id = m.org_unit_id)
            ) {self._insert_cells_sql("members", "owner_id")}"""))

    async def recompute_territories(self) -> None:
        """Every territory's cells: the facts of the accounts it or a territory below it covers."""
        await self.session.execute(text(f"""
            WITH RECURSIVE {self._closure_sql(territory_replica, "tc")},
            covers AS (
                SELECT DISTINCT a.account_id, tc.node FROM {account_territories.name} a
                JOIN tc ON tc.start = a.territory_id
            ) {self._insert_cells_sql("covers", "account_id")}"""))

    async def clear_territory_cells(self) -> None:
        """The cells recompute_territories writes: every territory's and every parent's a territory
        names. A parent the replica does not know yet (its event is on another partition, still
        behind) gets cells from its children's accounts too: left in place, the next territory
        event's recompute would insert them again (a duplicate key, the event dead-lettered)."""
        parents = select(territory_replica.c.parent_id).where(territory_replica.c.parent_id.is_not(None))
        await self.session.execute(delete(cells).where(or_(cells.c.node_id.in_(select(territory_replica.c.id)),
                                                           cells.c.node_id.in_(parents))))

    async def shift_facts(self, where, out_of: list[uuid.UUID], into: list[uuid.UUID]) -> None:
        """Move the contribution of the facts matching `where` (one user's, one account's) out of
        one chain of nodes and into another (a user changed org unit, an account territory)."""
        common = set(out_of) & set(into)
        if self.postgres:
            month = cast(func.date_trunc("month", facts.c.close_date), Date)
        else:
            month = func.date(facts.c.close_date, "start of month")
        key = (month, facts.c.currency, facts.c.status, facts.c.stage, facts.c.confirmed,
               func.coalesce(facts.c.category_override, ""))
        for sign, chain in ((-1, out_of), (+1, into)):
            for node in chain:
                if node in common:
                    continue
                source = (select(literal(node, cells.c.node_id.type).label("node_id"), *key,
                                 (func.count() * sign).label("count"),
                                 (func.sum(facts.c.amount_cents) * sign).label("amount_cents"),
                                 (func.sum(facts.c.amount_cents * facts.c.probability) * sign).label("weighted"))
                          .where(where).group_by(*key))
                await self.session.execute(self._adding(
                    self.insert(cells).from_select(list(CELL_KEY) + list(FIGURES), source)))

    async def shift_owner_facts(self, owner: uuid.UUID, out_of: list[uuid.UUID], into: list[uuid.UUID]) -> None:
        await self.shift_facts(facts.c.owner_id == owner, out_of, into)

    async def shift_account_facts(self, account: uuid.UUID, out_of: list[uuid.UUID], into: list[uuid.UUID]) -> None:
        await self.shift_facts(facts.c.account_id == account, out_of, into)

    async def accounts_with_facts(self, accounts: list[uuid.UUID]) -> set[uuid.UUID]:
        if not accounts:
            return set()
        return set((await self.session.scalars(
            select(facts.c.account_id).distinct().where(facts.c.account_id.in_(accounts)))).all())

    async def owners_with_facts(self, owners: list[uuid.UUID]) -> set[uuid.UUID]:
        if not owners:
            return set()
        return set((await self.session.scalars(
            select(facts.c.owner_id).distinct().where(facts.c.owner_id.in_(owners)))).all())

    # ------------------------------------------------------------------ org units, territories, coverage
    async def node_maps(self) -> tuple[dict, dict, dict]:
        """(user → org unit, org unit → parent, territory → parent)."""
        unit_of = dict((await self.session.execute(
            select(user_org_units.c.id, user_org_units.c.org_unit_id)
            .where(user_org_units.c.org_unit_id.is_not(None)))).all())
        unit_parent = dict((await self.session.execute(
            select(org_unit_replica.c.id, org_unit_replica.c.parent_id))).all())
        territory_parent = dict((await self.session.execute(
            select(territory_replica.c.id, territory_replica.c.parent_id))).all())
        return unit_of, unit_parent, territory_parent

    async def rows_before(self, table: Table, ids: list[uuid.UUID], parent: str | None = "parent_id") -> dict:
        columns = [table.c.id, table.c.version] + ([table.c[parent]] if parent else [])
        return {r.id: r for r in (await self.session.execute(select(*columns).where(table.c.id.in_(ids)))).all()}

    async def save_rows(self, table: Table, rows: list[dict]) -> None:
        await upsert_versioned_many(self.session, table, rows)

    async def parent_map(self, table: Table) -> dict:
        return dict((await self.session.execute(select(table.c.id, table.c.parent_id))).all())

    async def territories_of(self, accounts: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        return dict((await self.session.execute(
            select(account_territories.c.account_id, account_territories.c.territory_id)
            .where(self.among(account_territories.c.account_id, accounts)))).all())

    async def cover(self, account: uuid.UUID, territory: uuid.UUID | None) -> None:
        await self.session.execute(delete(account_territories).where(account_territories.c.account_id == account))
        if territory is not None:
            await self.session.execute(self.insert(account_territories).values(account_id=account,
                                                                               territory_id=territory))

    async def replace_coverage(self, rows: list[dict]) -> None:
        await self.session.execute(delete(account_territories))
        for start in range(0, len(rows), 1000):
            await self.session.execute(self.insert(account_territories), rows[start:start + 1000])

    async def territory_states(self) -> list[dict]:
        return list((await self.session.scalars(select(territory_replica.c.state))).all())

    async def account_profiles(self, profiles: Table) -> list:
        return (await self.session.execute(select(profiles))).all()

    async def rematch_coverage(self, profiles: Table) -> None:
        """Every account's covering territory from the rule book, and every territory's cells again
        (a territory changed, or a rebuild; under the exclusive read-model lock)."""
        book = rule_book(await self.territory_states())
        coverage = [dict(account_id=p.id, territory_id=t) for p in await self.account_profiles(profiles)
                    if (t := covering_territory(book, p)) is not None]
        await self.replace_coverage(coverage)
        await self.clear_territory_cells()
        await self.recompute_territories()


class ChainCache:
    """The user replica's superior map, kept in memory while `hierarchy_version` says it is
    current. The version is read in the caller's transaction, which holds the read-model lock
    shared, and every replica change bumps it under the exclusive lock: so a hit is never stale."""

    def __init__(self):
        self.version: tuple | None = None
        self.superior_of: dict[uuid.UUID, uuid.UUID | None] = {}
        self.unit_of: dict[uuid.UUID, uuid.UUID | None] = {}
        self.unit_parent: dict[uuid.UUID, uuid.UUID | None] = {}
        self.territory_parent: dict[uuid.UUID, uuid.UUID | None] = {}

    async def superiors(self, repo: RollupRepository, users: Table,
                        version: int | None = None) -> dict[uuid.UUID, uuid.UUID | None]:
        """`version`: the hierarchy version if the caller already read it in this transaction."""
        if version is None:
            version = await repo.hierarchy_version()
        # Keyed by the database too: one process may serve several databases (the service tests
        # do, one per module), whose hierarchy versions count up alike.
        key = (str(repo.session.bind.url), version)
        if version is None or key != self.version:
            self.superior_of = await repo.superior_map(users)
            self.unit_of, self.unit_parent, self.territory_parent = await repo.node_maps()
            self.version = key
        return self.superior_of


_OV = "ov"  # the category override, "" for "derived from the stage" (as in the cells)


class HistoryRepository(Repository):
    """Reads of the opportunity state history for a set of owners (a subtree: a selectable with
    one column `id`), one currency and a period's close dates [start, end)."""

    async def consistent_reads(self) -> None:
        """Every read after this one sees one snapshot of the database (PostgreSQL: REPEATABLE READ;
        SQLite's one transaction already does), so today's facts and the history after T agree."""
        if self.postgres:
            await self.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    async def limit(self):
        """(horizon, first state's time): nothing before the later of them is known."""
        horizon = select(history_horizon.c.starts_at).where(history_horizon.c.id == 1).scalar_subquery()
        row = (await self.session.execute(select(horizon.label("horizon"),
                                                 select(func.min(history.c.valid_from)).scalar_subquery()
                                                 .label("first")))).one()
        return row.horizon, row.first

    def _day(self, column):
        if self.postgres:
            return func.timezone("UTC", column).cast(Date)
        return func.date(column)

    def _states(self, tree, currency: str, start, end, prev: bool):
        c = history.c
        col = (lambda k: c[f"prev_{k}"]) if prev else (lambda k: c[k])
        sign = -1 if prev else 1
        return (select(c.valid_from, col("status").label("status"), col("stage").label("stage"),
                       func.coalesce(col("category_override"), "").label(_OV), literal(sign).label("n"),
                       (col("amount_cents") * sign).label("cents"),
                       (col("amount_cents") * col("probability") * sign).label("weighted"))
                .where(col("owner_id").in_(select(tree.c.id)), col("currency") == currency,
                       col("close_date") >= start, col("close_date") < end))

    async def deltas_by_day(self, tree, currency: str, start, end, on_or_after) -> list:
        """Σ (new state − replaced state) per UTC day of the change, status, stage and override, over
        the states valid from `on_or_after` on: (day, status, stage, ov, count, cents, weighted)."""
        parts = [self._states(tree, currency, start, end, prev).where(history.c.valid_from >= on_or_after)
                 for prev in (False, True)]
        u = parts[0].union_all(parts[1]).subquery()
        day = self._day(u.c.valid_from).label("day")
        return (await self.session.execute(
            select(day, u.c.status, u.c.stage, u.c[_OV], func.sum(u.c.n), func.sum(u.c.cents), func.sum(u.c.weighted))
            .group_by(day, u.c.status, u.c.stage, u.c[_OV]))).all()

    # ------------------------------------------------------------------ rebuilding it
    async def replace_history(self, rows: list[dict], starts_at) -> None:
        """The whole history from a replay of the stream (the caller holds the read models
        exclusively), and its horizon."""
        await self.session.execute(delete(history))
        for i in range(0, len(rows), 2000):
            await self.session.execute(self.insert(history).on_conflict_do_nothing(), rows[i:i + 2000])
        await self.upsert(history_horizon, {"id": 1, "starts_at": starts_at}, key=["id"])

    async def fill_from_facts(self) -> tuple[int, object]:
        """Facts newer than their last history state (a snapshot saw a change the replayed stream had
        not yet carried, or the stream no longer holds the opportunity's events): their state, valid
        from their last change, replacing the last state the history holds. Returns how many, and
        the latest change of those the history held nothing of beyond their first version (their
        earlier states are unknown: the horizon moves there)."""
        c = history.c
        last = (select(c.opportunity_id, func.max(c.version).label("version")).group_by(c.opportunity_id)
                .subquery())
        rows = (await self.session.execute(
            select(facts, last.c.version.label("history_version"))
            .outerjoin(last, last.c.opportunity_id == facts.c.id)
            .where(or_(last.c.version.is_(None), last.c.version < facts.c.version)))).mappings().all()
        if not rows:
            return 0, None
        # Each one's last state (the last of its rows in order), as the state its fact replaced.
        held = (await self.session.execute(
            select(history).where(c.opportunity_id.in_([r["id"] for r in rows if r["history_version"]]))
            .order_by(c.valid_from, c.version))).mappings().all()
        prev_rows = {r["opportunity_id"]: {**r, "state_valid_from": r["valid_from"]} for r in held}
        await RollupRepository(self.session).append_history(
            [history_row(dict(r), r["updated_at"], prev_rows.get(r["id"])) for r in rows])
        unknown = [r["updated_at"] for r in rows if r["history_version"] is None and r["version"] > 1]
        return len(rows), max(unknown, default=None)

    async def date_facts(self) -> None:
        """Each fact's state_valid_from and created_valid_from from the history (after a rebuild
        replaced both in bulk): the valid_from of its last state, and of its state that replaced none."""
        c = history.c
        last = select(func.max(c.valid_from)).where(c.opportunity_id == facts.c.id).scalar_subquery()
        first = (select(func.min(c.valid_from)).where(c.opportunity_id == facts.c.id, c.prev_status.is_(None))
                 .scalar_subquery())
        await self.session.execute(update(facts).values(state_valid_from=last, created_valid_from=first))

    async def move_horizon(self, at) -> None:
        """Nothing before `at` is known (the horizon only moves later)."""
        current = await self.session.scalar(select(history_horizon.c.starts_at).where(history_horizon.c.id == 1))
        if current is None or current < at:
            await self.upsert(history_horizon, {"id": 1, "starts_at": at}, key=["id"])

    async def open_facts(self) -> list:
        """(owner, close_date, currency, stage, cents) of every open fact."""
        return (await self.session.execute(select(facts.c.owner_id, facts.c.close_date, facts.c.currency,
                                                  facts.c.stage, facts.c.amount_cents)
                                           .where(facts.c.status == "open"))).all()

    async def states_after(self, instant) -> list:
        """Every state valid from after `instant`, newest first: (valid_from, new, prev), each state
        (owner, close_date, currency, stage, status, cents), prev None for a new opportunity."""
        c = history.c
        rows = (await self.session.execute(
            select(c.valid_from, c.owner_id, c.close_date, c.currency, c.stage, c.status, c.amount_cents,
                   c.prev_owner_id, c.prev_close_date, c.prev_currency, c.prev_stage, c.prev_status,
                   c.prev_amount_cents)
            .where(c.valid_from > instant).order_by(c.valid_from.desc(), c.version.desc()))).all()
        return [(r[0], tuple(r[1:7]), tuple(r[7:13]) if r[11] is not None else None) for r in rows]
