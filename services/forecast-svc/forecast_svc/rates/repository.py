"""All SQL of the exchange rates."""
from __future__ import annotations

from sqlalchemy import func, select, update

from kam_shared.repository import Repository

from .models import exchange_rates as rates


class RateRepository(Repository):
    async def lock(self) -> None:
        """Serialise writers of the rate table (PostgreSQL; SQLite has one writer anyway)."""
        if self.postgres:
            from sqlalchemy import text
            await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('kam-exchange-rates'))"))

    async def version(self) -> int:
        return int(await self.session.scalar(select(func.max(rates.c.version))) or 0)

    async def in_force(self, currencies: set[str] | None = None) -> list[dict]:
        """The current setting of every (pair, effective date), optionally of pairs touching `currencies`."""
        query = select(rates).where(rates.c.superseded_at.is_(None))
        if currencies is not None:
            query = query.where(rates.c.from_currency.in_(currencies) | rates.c.to_currency.in_(currencies))
        return [dict(r) for r in (await self.session.execute(
            query.order_by(rates.c.from_currency, rates.c.to_currency, rates.c.effective_date))).mappings().all()]

    async def every_setting(self) -> list[dict]:
        return [dict(r) for r in (await self.session.execute(
            select(rates).order_by(rates.c.from_currency, rates.c.to_currency, rates.c.effective_date,
                                   rates.c.version))).mappings().all()]

    async def supersede(self, row_id: int, now) -> None:
        await self.session.execute(update(rates).where(rates.c.id == row_id).values(superseded_at=now))

    async def add(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(self.insert(rates), rows)
