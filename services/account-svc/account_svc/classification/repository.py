"""SQL of classification: won revenue from the opportunity replica, by account (a merged account's
opportunities count for its survivor) and by year."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select, update

from kam_shared.repository import Repository

from ..accounts.models import accounts
from .models import opportunity_replica as opps


def _won(since: dt.date | None, until: dt.date | None):
    """Won revenue by account and currency. A merged account's opportunities count for its survivor
    even before opportunity-svc has re-pointed them."""
    account = func.coalesce(accounts.c.merged_into_id, opps.c.account_id).label("effective_account_id")
    query = (select(account, opps.c.currency, func.sum(opps.c.amount_cents).label("cents"))
             .select_from(opps.outerjoin(accounts, accounts.c.id == opps.c.account_id))
             .where(opps.c.status == "won").group_by(account, opps.c.currency))
    if since:
        query = query.where(opps.c.close_date >= since)
    if until:
        query = query.where(opps.c.close_date <= until)
    return query


class WonRevenueRepository(Repository):
    async def by_account_and_currency(self, since: dt.date | None, until: dt.date | None) -> list:
        """Rows of (effective_account_id, currency, cents)."""
        return list((await self.session.execute(_won(since, until))).all())

    async def by_account(self, currency: str, since: dt.date | None, until: dt.date | None) -> dict[uuid.UUID, int]:
        rows = (await self.session.execute(_won(since, until).where(opps.c.currency == currency))).all()
        return {r.effective_account_id: int(r.cents) for r in rows}

    async def by_year(self, account_id: uuid.UUID, currency: str) -> dict[int, int]:
        """Won cents per close-date year of the account and the accounts merged into it."""
        year = func.extract("year", opps.c.close_date)
        ids = select(accounts.c.id).where((accounts.c.id == account_id) | (accounts.c.merged_into_id == account_id))
        rows = (await self.session.execute(
            select(year.label("year"), func.sum(opps.c.amount_cents).label("cents"))
            .where(opps.c.status == "won", opps.c.currency == currency, opps.c.account_id.in_(ids))
            .group_by(year))).all()
        return {int(r.year): int(r.cents) for r in rows}

    async def account_info(self, ids: set[uuid.UUID]) -> list:
        """Name, owner and tier of the accounts in the view."""
        return list((await self.session.execute(
            select(accounts.c.id, accounts.c.name, accounts.c.owner_id, accounts.c.tier)
            .where(accounts.c.id.in_(ids)))).mappings().all())

    async def repoint(self, from_account_id: uuid.UUID, to_account_id: uuid.UUID) -> None:
        """A merge: the replica follows at once (opportunity-svc re-points and its events confirm it)."""
        await self.session.execute(update(opps).where(opps.c.account_id == from_account_id)
                                   .values(account_id=to_account_id))
