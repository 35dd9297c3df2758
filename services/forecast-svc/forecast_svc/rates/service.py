"""Use cases of the exchange rates: set them (admin), read them, and what roll-ups convert with."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden
from kam_shared.events import DomainEvent, utcnow
from kam_shared.events.forecast import ExchangeRate, ExchangeRatesChanged

from .domain import validate_rates
from .repository import RateRepository


async def list_rates(session: AsyncSession, history: bool = False) -> dict:
    repo = RateRepository(session)
    return {"version": await repo.version(), "rates": await repo.in_force(),
            "history": await repo.every_setting() if history else []}


async def set_rates(uow: UnitOfWork, principal: Principal, entries: list[dict]) -> dict:
    """Set rates per pair and effective date (admin). A setting equal to the one in force changes
    nothing; a different one supersedes it (kept as history). Other pairs and dates are untouched.
    Roll-ups convert at read, so nothing stored is recomputed; `exchange_rates_changed` says what
    changed."""
    if not principal.is_admin:
        raise Forbidden("only an admin sets exchange rates")
    validate_rates(entries)
    repo = RateRepository(uow.session)
    await repo.lock()
    current = {(r["from_currency"], r["to_currency"], r["effective_date"]): r for r in await repo.in_force()}
    version, now = await repo.version() + 1, utcnow()
    changed = []
    for e in entries:
        before = current.get((e["from_currency"], e["to_currency"], e["effective_date"]))
        if before is not None and Decimal(before["rate"]) == e["rate"]:
            continue
        if before is not None:
            await repo.supersede(before["id"], now)
        changed.append(e)
    if changed:
        await repo.add([dict(from_currency=e["from_currency"], to_currency=e["to_currency"],
                             effective_date=e["effective_date"], rate=str(e["rate"]), version=version, set_at=now,
                             set_by=principal.user_id) for e in changed])
        uow.publish(DomainEvent("kam.forecast.exchange_rates_changed.v1", "exchange-rates", version,
                                ExchangeRatesChanged(version=version, changed_by=principal.user_id,
                                                     rates=[ExchangeRate(**e) for e in changed])))
    return await list_rates(uow.session)


async def rates_touching(session: AsyncSession, currency: str) -> list[dict]:
    """The settings in force of every pair with `currency` on either side (a roll-up's conversions)."""
    return await RateRepository(session).in_force({currency})
