"""Use cases of territory plans (per territory and fiscal period: objectives, target accounts,
coverage and capacity, approval) and of rebalancing accounts between territories (重新定位销售力量)."""
from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange, utcnow
from kam_shared.events.territory_plan import (
    TerritoriesRebalanced,
    TerritoryMove,
    TerritoryPlanCreated,
    TerritoryPlanState,
    TerritoryPlanUpdated,
)
from kam_shared.http import check_if_match
from kam_shared.money import from_cents

from ..capacity.service import territory_of_accounts
from ..common.hierarchy import active_user, can_see_user, is_above, visible_user_ids
from ..quotas.domain import parse_period
from ..quotas.service import calendar
from . import domain
from .repository import TerritoryPlans

CONTENT = ("objectives", "target_account_ids", "coverage", "capacity_accounts")


def _json(body: dict) -> dict:
    """Content fields as stored (JSON: ids as strings)."""
    out = {}
    for name in CONTENT:
        if name in body:
            value = body[name]
            if name == "target_account_ids":
                value = [str(a) for a in value]
            elif name == "coverage":
                value = [{**c, "user_id": str(c["user_id"])} for c in value]
            out[name] = value
    return out


async def _territory(session: AsyncSession, principal: Principal, territory_id: uuid.UUID, *, field: str | None):
    """The territory if the caller may see it (its manager, anyone above them, an admin)."""
    row = await TerritoryPlans(session).territory(territory_id)
    if row is None or not await can_see_user(session, principal, row["owner_id"]):
        if field:
            raise ValidationProblem(f"territory {territory_id} does not exist", field=field)
        raise NotFound(f"territory {territory_id} not found")
    return row


async def _load(session: AsyncSession, principal: Principal, plan_id: uuid.UUID, *, lock: bool = False):
    row = await TerritoryPlans(session).row(plan_id, lock=lock)
    if row is None:
        raise NotFound(f"territory plan {plan_id} not found")
    try:
        territory = await _territory(session, principal, row["territory_id"], field=None)
    except NotFound:
        raise NotFound(f"territory plan {plan_id} not found") from None
    return row, territory


async def _check_content(session: AsyncSession, body: dict) -> None:
    domain.check_plan_content(body)
    for index, cover in enumerate(body.get("coverage") or []):
        await active_user(session, cover["user_id"], f"coverage.{index}.user_id")
    targets = body.get("target_account_ids") or []
    known = await TerritoryPlans(session).live_account_ids(targets)
    for index, account_id in enumerate(targets):
        if account_id not in known:
            raise ValidationProblem(f"account {account_id} is not known (or was merged)",
                                    field=f"target_account_ids.{index}")


async def _quota(session: AsyncSession, territory, period: str):
    """The territory's quota for the period: its org unit's, else its manager's."""
    repo = TerritoryPlans(session)
    if territory["org_unit_id"] is not None:
        quota = await repo.quota_of("org_unit", territory["org_unit_id"], period)
        if quota is not None:
            return quota
    return await repo.quota_of("user", territory["owner_id"], period)


def _state(row) -> TerritoryPlanState:
    return TerritoryPlanState(
        id=row["id"], territory_id=row["territory_id"], period=row["period"], period_start=row["period_start"],
        period_end=row["period_end"], status=row["status"], objectives=row["objectives"],
        target_account_ids=row["target_account_ids"], coverage=row["coverage"],
        capacity_accounts=row["capacity_accounts"], quota_id=row["quota_id"],
        quota_amount=from_cents(row["quota_amount_cents"]) if row["quota_amount_cents"] is not None else None,
        decision_reason=row["decision_reason"], version=row["version"])


def _covered(row, territory_of: dict) -> dict:
    inside = {a for a, t in territory_of.items() if t == row["territory_id"]}
    capacity = row["capacity_accounts"]
    return {"accounts": len(inside),
            "target_accounts_in_territory": sum(1 for a in row["target_account_ids"] if uuid.UUID(a) in inside),
            "capacity_accounts": capacity,
            "utilisation_percent": round(100 * len(inside) / capacity) if capacity else None,
            "people": len(row["coverage"]),
            "full_time_equivalent": sum(c.get("capacity_percent", 100) for c in row["coverage"]) / 100}


async def _present(session: AsyncSession, runtime: Runtime, row, territory, territory_of: dict | None = None) -> dict:
    if territory_of is None:
        _, territory_of = await territory_of_accounts(runtime, session)
    quota = await _quota(session, territory, row["period"])
    return {**row, "territory_name": territory["name"], "territory_owner_id": territory["owner_id"],
            "quota_id": quota["id"] if quota else row["quota_id"],
            "quota_amount": from_cents(quota["amount_cents"]) if quota else None,
            "quota_status": quota["status"] if quota else None, "covered": _covered(row, territory_of)}


async def create_plan(uow: UnitOfWork, runtime: Runtime, principal: Principal, body: dict) -> dict:
    session = uow.session
    repo = TerritoryPlans(session)
    territory = await _territory(session, principal, body["territory_id"], field="territory_id")
    period = parse_period(await calendar(session), body["period"])
    if not territory["active"]:
        raise ValidationProblem(f"territory {territory['id']} is deactivated", field="territory_id")
    await _check_content(session, body)
    existing = await repo.exists_for(territory["id"], period.label)
    if existing is not None:
        raise Conflict(f"territory {territory['id']} already has a plan for {period.label}", field="period",
                       existing_id=str(existing))
    quota = await _quota(session, territory, period.label)
    now = utcnow()
    values = dict(id=uuid.uuid4(), territory_id=territory["id"], period=period.label, period_start=period.start,
                  period_end=period.end, status="draft", objectives=[], target_account_ids=[], coverage=[],
                  capacity_accounts=None, quota_id=quota["id"] if quota else None,
                  quota_amount_cents=quota["amount_cents"] if quota else None, decision_reason=None,
                  decided_by=None, created_by=principal.user_id, version=1, created_at=now, updated_at=now)
    values.update(_json(body))
    await repo.add(values)
    uow.publish(DomainEvent("kam.team.territory_plan_created.v1", values["id"], 1,
                            TerritoryPlanCreated(plan=_state(values), changed_by=principal.user_id)))
    return await _present(session, runtime, values, territory)


async def _save(uow: UnitOfWork, row: dict, values: dict, principal: Principal) -> dict:
    changes = {k: FieldChange(before=row[k], after=v) for k, v in values.items() if row[k] != v}
    if not changes:
        return dict(row)
    new = {**row, **values, "version": row["version"] + 1, "updated_at": utcnow()}
    stored = {**values, "version": new["version"], "updated_at": new["updated_at"]}
    if not await TerritoryPlans(uow.session).save(row["id"], row["version"], stored):
        raise PreconditionFailed(f"territory plan {row['id']} changed concurrently; reload and retry")
    uow.publish(DomainEvent("kam.team.territory_plan_updated.v1", row["id"], new["version"], TerritoryPlanUpdated(
        plan=_state(new), changes=changes, changed_by=principal.user_id)))
    return new


async def update_plan(uow: UnitOfWork, runtime: Runtime, principal: Principal, plan_id: uuid.UUID, body: dict,
                      if_match: str | None) -> dict:
    session = uow.session
    row, territory = await _load(session, principal, plan_id, lock=True)
    check_if_match(if_match, row["version"])
    domain.check_editable(row["status"])
    await _check_content(session, body)
    new = await _save(uow, dict(row), _json(body), principal)
    return await _present(session, runtime, new, territory)


async def transition(uow: UnitOfWork, runtime: Runtime, principal: Principal, plan_id: uuid.UUID, action: str, *,
                     reason: str | None = None, if_match: str | None = None) -> dict:
    session = uow.session
    row, territory = await _load(session, principal, plan_id, lock=True)
    check_if_match(if_match, row["version"])
    status = domain.next_status(row["status"], action)
    values: dict = {"status": status}
    if action == "submit":
        values.update(decision_reason=None, decided_by=None)
    else:
        domain.check_decider(decider=principal.user_id, owner=territory["owner_id"],
                             decider_is_above=await is_above(session, principal.user_id, territory["owner_id"]),
                             decider_is_admin=principal.is_admin)
        values.update(decision_reason=reason, decided_by=principal.user_id)
    new = await _save(uow, dict(row), values, principal)
    return await _present(session, runtime, new, territory)


async def visible_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> None:
    """404 unless the plan exists and the caller may see it (its territory's manager, above them, admin)."""
    await _load(session, principal, plan_id)


async def get_plan(session: AsyncSession, runtime: Runtime, principal: Principal, plan_id: uuid.UUID) -> dict:
    row, territory = await _load(session, principal, plan_id)
    return await _present(session, runtime, row, territory)


async def list_plans(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                     cursor: str | None, territory_id: uuid.UUID | None, period: str | None,
                     status: str | None) -> dict:
    if period is not None:
        period = parse_period(await calendar(session), period).label
    repo = TerritoryPlans(session)
    rows, next_cursor = await repo.page(visible_owners=await visible_user_ids(session, principal),
                                        territory_id=territory_id, period=period, status=status, limit=limit,
                                        cursor=cursor)
    territories = {t["id"]: t for t in [await repo.territory(i) for i in {r["territory_id"] for r in rows}]}
    _, territory_of = await territory_of_accounts(runtime, session) if rows else (None, {})
    return {"items": [await _present(session, runtime, r, territories[r["territory_id"]], territory_of)
                      for r in rows], "next_cursor": next_cursor}


# ----------------------------------------------------------------------------------- rebalancing

async def _loads(session: AsyncSession, runtime: Runtime, principal: Principal, period: str | None):
    """The active territories the caller sees, their accounts now and their targets."""
    repo = TerritoryPlans(session)
    visible = await visible_user_ids(session, principal)
    rows = [t for t in await repo.territory_rows() if t["active"] and (visible is None or t["owner_id"] in visible)]
    _, territory_of = await territory_of_accounts(runtime, session)
    capacities = await repo.capacities(period) if period else {}
    held: dict[uuid.UUID, list[uuid.UUID]] = {t["id"]: [] for t in rows}
    for account_id, territory_id in sorted(territory_of.items(), key=lambda x: str(x[0])):
        if territory_id in held:
            held[territory_id].append(account_id)
    loads = [domain.Load(t["id"], held[t["id"]], capacities.get(t["id"])) for t in rows]
    return rows, loads, territory_of


async def proposal(session: AsyncSession, runtime: Runtime, principal: Principal, period: str | None) -> dict:
    if period is not None:
        period = parse_period(await calendar(session), period).label
    rows, loads, _ = await _loads(session, runtime, principal, period)
    moves = domain.propose(loads)
    goal = domain.targets(loads)
    owners = {t["id"]: t["owner_id"] for t in rows}
    delta = Counter()
    for move in moves:
        delta[move.from_territory_id] -= 1
        delta[move.to_territory_id] += 1
    by_id = {ld.territory_id: ld for ld in loads}
    return {"period": period,
            "territories": [{"territory_id": t["id"], "name": t["name"], "accounts": len(by_id[t["id"]].accounts),
                             "target": goal[t["id"]], "capacity_from_plan": by_id[t["id"]].capacity is not None,
                             "after": len(by_id[t["id"]].accounts) + delta[t["id"]]} for t in rows],
            "moves": [{"account_id": m.account_id, "from_territory_id": m.from_territory_id,
                       "to_territory_id": m.to_territory_id, "to_owner_id": owners[m.to_territory_id]}
                      for m in moves]}


async def _checked_moves(session: AsyncSession, principal: Principal, moves: list[dict], territory_of: dict,
                         rows: dict) -> list[TerritoryMove]:
    seen: set[uuid.UUID] = set()
    checked = []
    for index, move in enumerate(moves):
        account_id, to = move["account_id"], move["to_territory_id"]
        if account_id in seen:
            raise ValidationProblem(f"account {account_id} is moved twice", field=f"moves.{index}.account_id")
        seen.add(account_id)
        if account_id not in territory_of:
            raise ValidationProblem(f"account {account_id} is not known (or was merged)",
                                    field=f"moves.{index}.account_id")
        target = rows.get(to)
        if target is None or not target["active"]:
            raise ValidationProblem(f"territory {to} does not exist or is deactivated",
                                    field=f"moves.{index}.to_territory_id")
        source = territory_of[account_id]
        if source == to:
            raise ValidationProblem(f"account {account_id} is already in territory {to}",
                                    field=f"moves.{index}.to_territory_id")
        for territory_id in filter(None, (source, to)):
            if not await can_see_user(session, principal, rows[territory_id]["owner_id"]):
                raise Forbidden("you can only move accounts between territories you manage (or as an admin)",
                                field=f"moves.{index}")
        checked.append(TerritoryMove(account_id=account_id, from_territory_id=source, to_territory_id=to,
                                     to_owner_id=target["owner_id"]))
    return checked


async def rebalance(uow: UnitOfWork, runtime: Runtime, principal: Principal, body: dict) -> dict:
    """Apply a proposal (or an edited list) as one recorded change: the accounts are placed in their
    new territories here, and one event lists the moves (account-svc reassigns each account)."""
    session = uow.session
    if principal.role == "rep":
        raise Forbidden("only a manager or an admin rebalances territories")
    period = parse_period(await calendar(session), body["period"]).label if body.get("period") else None
    repo = TerritoryPlans(session)
    rows = {t["id"]: t for t in await repo.territory_rows()}
    _, territory_of = await territory_of_accounts(runtime, session)
    moves = await _checked_moves(session, principal, body["moves"], territory_of, rows)
    now = utcnow()
    rebalance_id = uuid.uuid4()
    stored = [m.model_dump(mode="json") for m in moves]
    await repo.add_rebalance(dict(id=rebalance_id, moves=stored, reason=body.get("reason"), period=period,
                                  created_by=principal.user_id, created_at=now),
                             [dict(account_id=m.account_id, territory_id=m.to_territory_id, rebalance_id=rebalance_id,
                                   placed_at=now) for m in moves])
    uow.publish(DomainEvent("kam.team.territories_rebalanced.v1", rebalance_id, 1, TerritoriesRebalanced(
        id=rebalance_id, moves=moves, reason=body.get("reason"), period=period, changed_by=principal.user_id)))
    return dict(id=rebalance_id, moves=stored, reason=body.get("reason"), period=period,
                created_by=principal.user_id, created_at=now)


async def get_rebalance(session: AsyncSession, principal: Principal, rebalance_id: uuid.UUID) -> dict:
    row = await TerritoryPlans(session).rebalance(rebalance_id)
    if row is None or not (principal.is_admin or row["created_by"] == principal.user_id
                           or await can_see_user(session, principal, row["created_by"])):
        raise NotFound(f"rebalance {rebalance_id} not found")
    return dict(row)
