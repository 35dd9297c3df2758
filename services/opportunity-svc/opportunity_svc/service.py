"""Use cases of opportunity-svc: load → domain → save + events in one unit of work."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork, check_if_match
from kam_shared.auth import Principal
from kam_shared.errors import Forbidden, NotFound, PreconditionFailed, UpstreamUnavailable, ValidationProblem
from kam_shared.events import AccountCreated, CloudEvent
from kam_shared.money import from_cents, to_cents, validate_currency
from kam_shared.pagination import decode_cursor, encode_cursor
from kam_shared.replicas import upsert_versioned

from .domain.funnel import DEFAULT_STAGES
from .domain.opportunity import Opportunity
from .models import account_replica, opportunities, stage_history


def _to_domain(row) -> Opportunity:
    return Opportunity(id=row["id"], account_id=row["account_id"], name=row["name"],
                       amount=from_cents(row["amount_cents"]), currency=row["currency"],
                       close_date=row["close_date"], owner_id=row["owner_id"], stage=row["stage"],
                       probability=row["probability"], status=row["status"], close_reason=row["close_reason"],
                       lost_to_competitor=row["lost_to_competitor"], version=row["version"],
                       updated_at=row["updated_at"])


def _columns(opp: Opportunity) -> dict:
    return dict(account_id=opp.account_id, name=opp.name, amount_cents=to_cents(opp.amount), currency=opp.currency,
                close_date=opp.close_date, owner_id=opp.owner_id, stage=opp.stage, probability=opp.probability,
                status=opp.status, close_reason=opp.close_reason, lost_to_competitor=opp.lost_to_competitor,
                version=opp.version, updated_at=opp.updated_at)


def present(row) -> dict:
    out = dict(row)
    out["amount"] = from_cents(out.pop("amount_cents"))
    out["stage_name"] = DEFAULT_STAGES[out["stage"] - 1].name
    return out


async def account_exists(session: AsyncSession, runtime: Runtime, principal: Principal,
                         account_id: uuid.UUID) -> bool:
    """The local replica first; if it has not caught up, ask account-svc (and remember the answer)."""
    if await session.scalar(select(account_replica.c.id).where(account_replica.c.id == account_id)):
        return True
    try:
        async with account_svc_client(runtime) as client:
            resp = await client.get(f"/v1/accounts/{account_id}",
                                    headers={"Authorization": f"Bearer {principal.token}"})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"cannot verify account_id: account-svc unreachable ({type(exc).__name__})",
                                  field="account_id") from None
    if resp.status_code == 404:
        return False
    if resp.status_code != 200:
        raise UpstreamUnavailable(f"cannot verify account_id: account-svc answered {resp.status_code}",
                                  field="account_id")
    body = resp.json()
    await upsert_account(session, uuid.UUID(body["id"]), body["name"],
                         uuid.UUID(body["owner_id"]) if body.get("owner_id") else None, body["version"])
    return True


def account_svc_client(runtime: Runtime) -> httpx.AsyncClient:
    """HTTP client for account-svc; replaceable through runtime.extras (tests use an in-process app)."""
    factory = runtime.extras.get("account_svc_client")
    if factory:
        return factory()
    return httpx.AsyncClient(base_url=runtime.settings.kam_account_svc_url, timeout=5)


async def upsert_account(session: AsyncSession, account_id: uuid.UUID, name: str, owner_id, version: int) -> None:
    await upsert_versioned(session, account_replica,
                           dict(id=account_id, name=name, owner_id=owner_id, version=version))


async def on_account_created(session: AsyncSession, event: CloudEvent, payload: AccountCreated) -> None:
    a = payload.account
    await upsert_account(session, a.id, a.name, a.owner_id, a.version)


async def create_opportunity(uow: UnitOfWork, runtime: Runtime, principal: Principal, *, account_id: uuid.UUID,
                             name: str, amount: Decimal, currency: str, close_date: dt.date,
                             owner_id: uuid.UUID | None) -> dict:
    session = uow.session
    currency = validate_currency(currency)
    owner_id = owner_id or principal.user_id
    if not await runtime.visibility.can_see(session, principal, owner_id):
        raise Forbidden("you can only create opportunities for yourself or people in your team", field="owner_id")
    if not await account_exists(session, runtime, principal, account_id):
        raise ValidationProblem(f"account {account_id} does not exist", field="account_id")
    opp = Opportunity.open(account_id=account_id, name=name, amount=amount, currency=currency,
                           close_date=close_date, owner_id=owner_id)
    await session.execute(insert(opportunities).values(id=opp.id, created_at=opp.updated_at, **_columns(opp)))
    await _record_history(session, opp, None, principal.user_id)
    uow.publish(*opp.events)
    await uow.commit()
    return await get_visible(session, runtime, principal, opp.id)


async def _record_history(session: AsyncSession, opp: Opportunity, from_stage: int | None, by: uuid.UUID) -> None:
    await session.execute(insert(stage_history).values(opportunity_id=opp.id, from_stage=from_stage,
                                                       to_stage=opp.stage, status=opp.status, changed_by=by,
                                                       changed_at=opp.updated_at))


async def get_visible(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID):
    row = (await session.execute(select(opportunities).where(opportunities.c.id == opp_id))).mappings().first()
    if row is None or not await runtime.visibility.can_see(session, principal, row["owner_id"]):
        raise NotFound(f"opportunity {opp_id} not found")
    return present(row)


async def list_visible(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                       cursor: str | None, **filters) -> dict:
    after = decode_cursor(cursor, uuid.UUID)
    query = select(opportunities).order_by(opportunities.c.id).limit(limit + 1)
    if after:
        query = query.where(opportunities.c.id > after)
    for column, value in filters.items():
        if value is not None:
            query = query.where(opportunities.c[column] == value)
    owners = await runtime.visibility.owner_ids(session, principal)
    if owners is not None:
        query = query.where(opportunities.c.owner_id.in_(owners))
    rows = (await session.execute(query)).mappings().all()
    items = [present(r) for r in rows[:limit]]
    return {"items": items, "next_cursor": encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None}


async def _load_for_change(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID,
                           if_match: str | None) -> Opportunity:
    query = select(opportunities).where(opportunities.c.id == opp_id)
    if not runtime.db.sqlite:
        query = query.with_for_update()  # serialise concurrent changes to one opportunity
    row = (await session.execute(query)).mappings().first()
    if row is None or not await runtime.visibility.can_see(session, principal, row["owner_id"]):
        raise NotFound(f"opportunity {opp_id} not found")
    check_if_match(if_match, row["version"])
    return _to_domain(row)


async def _save(uow: UnitOfWork, opp: Opportunity, expected_version: int) -> None:
    result = await uow.session.execute(update(opportunities).where(
        opportunities.c.id == opp.id, opportunities.c.version == expected_version).values(**_columns(opp)))
    if result.rowcount != 1:  # someone else changed it between our read and write
        raise PreconditionFailed("opportunity changed concurrently; reload and retry")
    uow.publish(*opp.events)
    await uow.commit()


async def change_stage(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, stage: int,
                       if_match: str | None) -> dict:
    session = uow.session
    opp = await _load_for_change(session, runtime, principal, opp_id, if_match)
    before_version, before_stage = opp.version, opp.stage
    if opp.move_to(stage, principal.user_id):
        await _record_history(session, opp, before_stage, principal.user_id)
        await _save(uow, opp, before_version)
    return await get_visible(session, runtime, principal, opp_id)


async def close(uow: UnitOfWork, runtime: Runtime, principal: Principal, opp_id: uuid.UUID, *, outcome: str,
                reason: str, competitor: str | None, if_match: str | None) -> dict:
    session = uow.session
    opp = await _load_for_change(session, runtime, principal, opp_id, if_match)
    before_version, before_stage = opp.version, opp.stage
    opp.close(outcome, reason, competitor, principal.user_id)
    await _record_history(session, opp, before_stage, principal.user_id)
    await _save(uow, opp, before_version)
    return await get_visible(session, runtime, principal, opp_id)


async def history(session: AsyncSession, runtime: Runtime, principal: Principal, opp_id: uuid.UUID) -> list[dict]:
    await get_visible(session, runtime, principal, opp_id)
    rows = (await session.execute(select(stage_history).where(stage_history.c.opportunity_id == opp_id)
                                  .order_by(stage_history.c.id))).mappings().all()
    return [dict(r) for r in rows]


def stage_model() -> list[dict]:
    return [s.__dict__ for s in DEFAULT_STAGES]


