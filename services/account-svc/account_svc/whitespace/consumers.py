"""The whitespace side of the opportunity replica, and the replica of the product catalogue.

`WithFamilies` is the opportunity ReadModel (classification's won-revenue replica) that also keeps,
in the same transaction, the product families of each won or open opportunity's lines and the
comparable-accounts figures of the (industry, tier, family) it touches, so a whitespace read only
looks them up. The live path and a rebuild both go through `apply`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import TOPICS, utcnow
from kam_shared.events.opportunity import OpportunityState, ProductState
from kam_shared.money import to_cents
from kam_shared.readmodel import ReadModel

from .domain import family_amounts, family_figures
from .models import product_replica
from .repository import WhitespaceRepository

FOLLOWED = ("won", "open")


async def refresh_figures(session: AsyncSession, keys: Iterable[tuple[str, str, str]]) -> None:
    """Recompute what comparable accounts buy for each (industry, tier, family)."""
    repo = WhitespaceRepository(session)
    now = utcnow()
    for industry, tier, family in sorted(set(keys)):
        await repo.save_figures(industry, tier, family,
                                family_figures(await repo.won_purchases(industry, tier, family)), now)


async def follow_families(session: AsyncSession, o: OpportunityState) -> None:
    """The opportunity's families after this state; the figures of the won ones before and after."""
    repo = WhitespaceRepository(session)
    before = await repo.families_of(o.id)
    amounts = family_amounts((line.family, to_cents(line.amount)) for line in o.lines) \
        if o.status in FOLLOWED else {}
    rows = [dict(opportunity_id=o.id, family=f, account_id=o.account_id, status=o.status, currency=o.currency,
                 amount_cents=c) for f, c in amounts.items()]
    if {tuple(r) for r in before} == {(r["family"], r["status"], r["account_id"], r["currency"], r["amount_cents"])
                                      for r in rows}:
        return  # the same families as before (a stage move): neither they nor any figure changes
    await repo.replace_families(o.id, rows)
    won = {(r.account_id, r.family) for r in before if r.status == "won"}
    if o.status == "won":
        won |= {(o.account_id, f) for f in amounts}
    if not won:
        return
    segments = await repo.segments_of(a for a, _ in won)
    await refresh_figures(session, [(*segments[a], f) for a, f in won if a in segments])


async def account_segment_changed(session: AsyncSession, account_id, before: tuple, after: tuple) -> None:
    """An account moved to another industry or tier: both segments' figures of its families change."""
    if before == after:
        return
    won = await WhitespaceRepository(session).families_won_by(account_id)
    keys = [(*segment, f) for segment in (before, after) if all(segment) for f in won]
    await refresh_figures(session, keys)


async def accounts_merged(session: AsyncSession, survivor_id, segments: Iterable[tuple]) -> None:
    """A merge moved the duplicate's opportunities to the survivor: the figures of the survivor's
    families in its segment and in the duplicate's change."""
    won = await WhitespaceRepository(session).families_won_by(survivor_id)
    await refresh_figures(session, [(*segment, f) for segment in set(segments) if all(segment) for f in won])


@dataclass(frozen=True)
class WithFamilies(ReadModel):
    async def apply(self, session: AsyncSession, state: Any) -> bool:
        applied = await super().apply(session, state)
        if applied:
            await follow_families(session, state)
        return applied

    async def apply_states(self, session: AsyncSession, states: Iterable[Any]) -> int:
        count = 0
        for state in states:
            await self.apply(session, state)
            count += 1
        return count


def _product_row(p: ProductState) -> dict:
    return dict(id=p.id, code=p.code, family=p.family, active=p.active, version=p.version)


PRODUCTS = ReadModel(product_replica, TOPICS["opportunity"], "product", ProductState, _product_row)
HANDLERS = PRODUCTS.handlers()
