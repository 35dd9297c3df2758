"""All SQL of whitespace: the families of won/open opportunities (written by the replica consumer),
the comparable-accounts figures per (industry, tier, family), and the reads of GET .../whitespace."""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import and_, delete, func, or_, select, update

from kam_shared.repository import Repository

from ..accounts.models import accounts
from .domain import FamilyFigures, Holding, Purchase
from .models import comparable_family_stats as stats
from .models import opportunity_families as families
from .models import product_replica


def _segments_where(segments: Iterable[tuple[str, str]]):
    return or_(*[and_(accounts.c.industry == i, accounts.c.tier == t) for i, t in segments])


class WhitespaceRepository(Repository):
    # --- written by the replica consumer --------------------------------------------------------

    async def families_of(self, opportunity_id: uuid.UUID) -> list:
        """(family, status, account_id, currency, amount_cents) rows an opportunity had."""
        return list((await self.session.execute(
            select(families.c.family, families.c.status, families.c.account_id, families.c.currency,
                   families.c.amount_cents)
            .where(families.c.opportunity_id == opportunity_id))).all())

    async def replace_families(self, opportunity_id: uuid.UUID, rows: list[dict]) -> None:
        await self.session.execute(delete(families).where(families.c.opportunity_id == opportunity_id))
        if rows:
            await self.session.execute(self.insert(families), rows)

    async def segments_of(self, account_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
        """(industry, tier) of the accounts that have both."""
        ids = set(account_ids)
        if not ids:
            return {}
        rows = (await self.session.execute(select(accounts.c.id, accounts.c.industry, accounts.c.tier)
                                           .where(accounts.c.id.in_(ids)))).all()
        return {r.id: (r.industry, r.tier) for r in rows if r.industry and r.tier}

    async def won_purchases(self, industry: str, tier: str, family: str) -> list[Purchase]:
        """Every won opportunity's lines in `family` of a live account of that industry and tier."""
        rows = (await self.session.execute(
            select(families.c.account_id, families.c.currency, families.c.amount_cents)
            .select_from(families.join(accounts, accounts.c.id == families.c.account_id))
            .where(families.c.family == family, families.c.status == "won", accounts.c.industry == industry,
                   accounts.c.tier == tier, accounts.c.merged_into_id.is_(None)))).all()
        return [Purchase(r.account_id, r.currency, int(r.amount_cents)) for r in rows]

    async def families_won_by(self, account_id: uuid.UUID) -> set[str]:
        return set((await self.session.scalars(select(families.c.family).distinct().where(
            families.c.account_id == account_id, families.c.status == "won"))).all())

    async def save_figures(self, industry: str, tier: str, family: str, figures: FamilyFigures,
                           now: dt.datetime) -> None:
        key = dict(industry=industry, tier=tier, family=family)
        if not figures.buyers:
            await self.session.execute(delete(stats).where(*[stats.c[k] == v for k, v in key.items()]))
            return
        await self.upsert(stats, dict(key, buyers=figures.buyers, estimates=list(figures.estimates),
                                      updated_at=now), key=list(key))

    async def segment_families(self) -> list:
        """Every (industry, tier, family) with a won purchase: what a full refresh recomputes."""
        return list((await self.session.execute(
            select(accounts.c.industry, accounts.c.tier, families.c.family).distinct()
            .select_from(families.join(accounts, accounts.c.id == families.c.account_id))
            .where(families.c.status == "won", accounts.c.industry.is_not(None),
                   accounts.c.tier.is_not(None)))).all())

    async def repoint(self, from_account_id: uuid.UUID, to_account_id: uuid.UUID) -> None:
        """A merge: the families follow the opportunities to the survivor at once."""
        await self.session.execute(update(families).where(families.c.account_id == from_account_id)
                                   .values(account_id=to_account_id))

    # --- read by GET /v1/accounts/{id}/whitespace -----------------------------------------------

    async def sold_families(self) -> set[str]:
        """The families of the active products of the catalogue."""
        return set((await self.session.scalars(select(product_replica.c.family).distinct()
                                               .where(product_replica.c.active.is_(True)))).all())

    async def holdings(self, unit_ids: Iterable[uuid.UUID]) -> dict[tuple[uuid.UUID, str], Holding]:
        rows = (await self.session.execute(
            select(families.c.account_id, families.c.family, families.c.status, func.count().label("n"))
            .where(families.c.account_id.in_(set(unit_ids)))
            .group_by(families.c.account_id, families.c.family, families.c.status))).all()
        out: dict[tuple[uuid.UUID, str], Holding] = {}
        for r in rows:
            holding = out.setdefault((r.account_id, r.family), Holding())
            setattr(holding, r.status, int(r.n))
        return out

    async def comparable_counts(self, segments: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        if not segments:
            return {}
        rows = (await self.session.execute(
            select(accounts.c.industry, accounts.c.tier, func.count().label("n"))
            .where(accounts.c.merged_into_id.is_(None), _segments_where(segments))
            .group_by(accounts.c.industry, accounts.c.tier))).all()
        return {(r.industry, r.tier): int(r.n) for r in rows}

    async def figures(self, segments: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, FamilyFigures]]:
        if not segments:
            return {}
        rows = (await self.session.execute(select(stats).where(
            or_(*[and_(stats.c.industry == i, stats.c.tier == t) for i, t in segments])))).mappings().all()
        out: dict[tuple[str, str], dict[str, FamilyFigures]] = {}
        for r in rows:
            out.setdefault((r["industry"], r["tier"]), {})[r["family"]] = FamilyFigures(
                r["buyers"], tuple(r["estimates"]))
        return out
