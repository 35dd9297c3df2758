"""SQL of the rebuild: replace the replicas' rows and recompute the roll-up cells."""
from __future__ import annotations

from sqlalchemy import Table, delete, select

from kam_shared.consumer import exclusive_read_model_lock
from kam_shared.replicas import upsert_versioned_many
from kam_shared.repository import Repository

from ..rollups.models import account_profiles, org_unit_replica, stage_probabilities, territory_replica, user_org_units
from ..rollups.models import opportunity_facts as facts
from ..rollups.repository import HistoryRepository, RollupRepository

DELETE_CHUNK = 1000


class RebuildRepository(Repository):
    async def lock_read_models(self, group_id: str) -> None:
        await exclusive_read_model_lock(self.session, group_id)

    async def save_stage_probabilities(self, rows: list[dict]) -> None:
        await upsert_versioned_many(self.session, stage_probabilities, rows, key="stage")

    async def save_users(self, users: Table, rows: list[dict]) -> None:
        await upsert_versioned_many(self.session, users, rows)
        await RollupRepository(self.session).hierarchy_changed()

    async def save_facts(self, rows: list[dict]) -> None:
        await upsert_versioned_many(self.session, facts, rows)

    async def stored_facts(self) -> list:
        return (await self.session.execute(select(facts.c.id, facts.c.updated_at))).all()

    async def remove_facts(self, ids: list) -> None:
        for start in range(0, len(ids), DELETE_CHUNK):
            await self.session.execute(delete(facts).where(facts.c.id.in_(ids[start:start + DELETE_CHUNK])))

    async def save_nodes(self, memberships: list[dict], units: list[dict], territories: list[dict],
                         accounts: list[dict]) -> None:
        """The users' org units, the org units, the territories and the account profiles (the
        same rows the events write, version-guarded)."""
        for table, rows in ((user_org_units, memberships), (org_unit_replica, units),
                            (territory_replica, territories), (account_profiles, accounts)):
            for start in range(0, len(rows), DELETE_CHUNK):
                await upsert_versioned_many(self.session, table, rows[start:start + DELETE_CHUNK])

    async def recompute_cells(self, users: Table) -> None:
        rollups = RollupRepository(self.session)
        await rollups.clear_cells()
        await rollups.recompute(users)
        await rollups.rematch_coverage(account_profiles)  # the coverage and the territories' cells

    async def rebuild_history(self, rows: list[dict], horizon) -> dict:
        """The state history from the replayed stream, then the facts' states it does not hold yet."""
        history = HistoryRepository(self.session)
        await history.replace_history(rows, horizon)
        filled, unknown_before = await history.fill_from_facts()
        if unknown_before is not None:
            await history.move_horizon(unknown_before)
        await history.date_facts()
        return {"states": len(rows) + filled, "from_facts": filled}
