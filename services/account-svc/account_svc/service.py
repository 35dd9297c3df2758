"""Use cases of account-svc for accounts: load → domain → save + events in one unit of work."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork, check_if_match
from kam_shared.auth import Principal
from kam_shared.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.events.account import MergedRecords
from kam_shared.events.team import TerritoryState
from kam_shared.money import from_cents, to_cents
from kam_shared.pagination import decode_cursor, encode_cursor

from . import directory, uniqueness
from .domain.accounts import Account, clean_profile
from .domain.assignment import (Assignment, NoTerritoryRules, ReplicatedTerritoryRules, TerritoryRules,
                                assign_owner)
from .domain.hierarchy import build_tree, check_no_cycle
from .domain.names import normalise
from .domain.records import KINDS
from .models import RECORD_TABLES, accounts, opportunity_replica, owner_history, territory_replica

MAX_DEPTH = 50  # a hierarchy deeper than this is a data error; recursive queries stop there


# --- mapping ------------------------------------------------------------------------------------

def _pct_from_bp(bp: int | None) -> Decimal | None:
    return None if bp is None else (Decimal(bp) / 100).quantize(Decimal("0.01"))


def _bp_from_pct(pct: Decimal | None) -> int | None:
    return None if pct is None else int(Decimal(pct).quantize(Decimal("0.01")) * 100)


def present(row) -> dict:
    """A stored row as the API and the domain see it (money as Decimal, margin as %)."""
    out = dict(row)
    for name in ("annual_revenue", "annual_purchase_volume"):
        cents = out.pop(f"{name}_cents")
        out[name] = None if cents is None else from_cents(cents)
    out["gross_margin_pct"] = _pct_from_bp(out.pop("gross_margin_bp"))
    return out


def _to_domain(row) -> Account:
    return Account.from_row(present(row))


def _columns(account: Account) -> dict:
    values = {name: getattr(account, name) for name in (
        "name", "normalized_name", "credit_code", "industry", "region", "owner_id", "status", "type", "tier",
        "parent_id", "centralised_purchasing", "employees", "currency", "installed_base", "business_situation",
        "website", "phones", "addresses", "strategic_flags", "merged_into_id", "version")}
    for name in ("annual_revenue", "annual_purchase_volume"):
        amount = getattr(account, name)
        values[f"{name}_cents"] = None if amount is None else to_cents(amount)
    values["gross_margin_bp"] = _bp_from_pct(account.gross_margin_pct)
    values["phones"] = [dict(p) for p in account.phones]
    values["addresses"] = [dict(a) for a in account.addresses]
    return values


# --- reading ------------------------------------------------------------------------------------

async def _row(session: AsyncSession, account_id: uuid.UUID, *, for_update: bool = False, sqlite: bool = True):
    query = select(accounts).where(accounts.c.id == account_id)
    if for_update and not sqlite:
        query = query.with_for_update()  # serialise concurrent changes to one account
    return (await session.execute(query)).mappings().first()


async def visible_account(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                          *, field: str | None = None):
    row = await _row(session, account_id)
    if row is None or not await runtime.visibility.can_see(session, principal, row["owner_id"]):
        raise NotFound(f"account {account_id} not found", field=field)
    return row


async def get_account(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    return present(await visible_account(session, runtime, principal, account_id))


async def _load_for_change(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                           if_match: str | None = None, field: str | None = None) -> Account:
    row = await _row(session, account_id, for_update=True, sqlite=runtime.db.sqlite)
    if row is None or not await runtime.visibility.can_see(session, principal, row["owner_id"]):
        raise NotFound(f"account {account_id} not found", field=field)
    check_if_match(if_match, row["version"])
    return _to_domain(row)


async def list_accounts(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                        cursor: str | None, q: str | None, include_merged: bool, **filters) -> dict:
    after = decode_cursor(cursor, uuid.UUID)
    query = select(accounts).order_by(accounts.c.id).limit(limit + 1)
    if after:
        query = query.where(accounts.c.id > after)
    for column, value in filters.items():
        if value is not None:
            query = query.where(accounts.c[column] == value)
    if not include_merged:
        query = query.where(accounts.c.merged_into_id.is_(None))
    if q is not None:
        key = uniqueness.query_key(q)
        if not key:
            raise ValidationProblem("q must contain letters or digits", field="q")
        query = query.where(accounts.c.normalized_name.contains(key, autoescape=True))
    owners = await runtime.visibility.owner_ids(session, principal)
    if owners is not None:
        query = query.where(accounts.c.owner_id.in_(owners))
    rows = (await session.execute(query)).mappings().all()
    items = [present(r) for r in rows[:limit]]
    return {"items": items, "next_cursor": encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None}


async def snapshot(session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None) -> dict:
    """Every account, tombstones included, ordered by id: what a read model is rebuilt from."""
    if not principal.is_admin:
        raise Forbidden("the snapshot is for read-model rebuilds; it needs an admin token")
    as_of = utcnow()
    after = decode_cursor(cursor, uuid.UUID)
    query = select(accounts).order_by(accounts.c.id).limit(limit + 1)
    if after:
        query = query.where(accounts.c.id > after)
    rows = (await session.execute(query)).mappings().all()
    items = [present(r) for r in rows[:limit]]
    return {"items": items, "as_of": as_of,
            "next_cursor": encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None}


# --- hierarchy ----------------------------------------------------------------------------------

async def ancestor_chain(session: AsyncSession, start: uuid.UUID) -> list[uuid.UUID]:
    """`start` followed by its parent, grandparent, ... up to the top (recursive CTE)."""
    chain = select(accounts.c.id, accounts.c.parent_id, literal(0).label("depth")) \
        .where(accounts.c.id == start).cte("chain", recursive=True)
    chain = chain.union_all(
        select(accounts.c.id, accounts.c.parent_id, (chain.c.depth + 1).label("depth"))
        .where(accounts.c.id == chain.c.parent_id, chain.c.depth < MAX_DEPTH))
    rows = (await session.execute(select(chain.c.id, chain.c.depth).order_by(chain.c.depth))).all()
    return [r.id for r in rows]


async def _check_parent(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID | None,
                        parent_id: uuid.UUID) -> None:
    """The parent exists, is live and visible; under `account_id` it closes no loop."""
    row = await _row(session, parent_id)
    if row is None or not await runtime.visibility.can_see(session, principal, row["owner_id"]):
        raise ValidationProblem(f"parent_id: account {parent_id} not found", field="parent_id")
    if row["merged_into_id"] is not None:
        raise ValidationProblem(f"parent_id: account {parent_id} was merged into {row['merged_into_id']}",
                                field="parent_id")
    if account_id is not None:
        check_no_cycle(account_id, parent_id, await ancestor_chain(session, parent_id))


async def tree(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    root = await visible_account(session, runtime, principal, account_id)
    down = select(accounts.c.id, literal(0).label("depth")).where(accounts.c.id == account_id) \
        .cte("down", recursive=True)
    down = down.union_all(select(accounts.c.id, (down.c.depth + 1).label("depth"))
                          .where(accounts.c.parent_id == down.c.id, accounts.c.merged_into_id.is_(None),
                                 down.c.depth < MAX_DEPTH))
    rows = (await session.execute(select(accounts).where(accounts.c.id.in_(select(down.c.id))))).mappings().all()
    chain = (await ancestor_chain(session, root["parent_id"])) if root["parent_id"] else []
    above = {r["id"]: r for r in (await session.execute(
        select(accounts).where(accounts.c.id.in_(chain)))).mappings().all()} if chain else {}
    owners = await runtime.visibility.owner_ids(session, principal)

    def node(row) -> dict:
        restricted = owners is not None and row["owner_id"] not in owners
        base = {"id": row["id"], "parent_id": row["parent_id"], "restricted": restricted}
        if restricted:  # the structure is shown, the details are not
            return {**base, "name": None}
        return {**base, "name": row["name"], "owner_id": row["owner_id"], "type": row["type"], "tier": row["tier"],
                "centralised_purchasing": row["centralised_purchasing"]}

    nested = build_tree(account_id, {r["id"]: node(r) for r in rows})
    ancestors = [node(above[i]) for i in reversed(chain) if i in above]
    return {"ancestors": ancestors, "tree": nested}


# --- creating, enriching, changing --------------------------------------------------------------

async def load_territory_rules(session: AsyncSession) -> TerritoryRules:
    """The active territories of the local replica of team-svc's territory events."""
    states = (await session.scalars(select(territory_replica.c.state).where(territory_replica.c.active.is_(True)))).all()
    if not states:
        return NoTerritoryRules()
    return ReplicatedTerritoryRules([TerritoryState.model_validate(s) for s in states])


async def _history(session: AsyncSession, account: Account, from_owner: uuid.UUID | None, rule: str,
                   reason: str | None, by: uuid.UUID | None, at: dt.datetime) -> None:
    await session.execute(insert(owner_history).values(
        account_id=account.id, from_owner_id=from_owner, to_owner_id=account.owner_id, rule=rule, reason=reason,
        changed_by=by, changed_at=at))


async def _check_owner(session: AsyncSession, runtime: Runtime, principal: Principal, owner_id: uuid.UUID) -> None:
    await directory.require_active_user(session, runtime, principal, owner_id, "owner_id")
    if not await runtime.visibility.can_see(session, principal, owner_id):
        raise Forbidden("you can only assign accounts to yourself or to people in your team", field="owner_id")


async def open_account(uow: UnitOfWork, runtime: Runtime, principal: Principal, body: dict,
                       on_duplicate: str = "reject") -> tuple[dict, bool]:
    """Create an account, or (on_duplicate=enrich) fill the empty fields of the one it duplicates.
    Returns (account, created)."""
    session = uow.session
    body = dict(body)
    explicit_owner = body.pop("owner_id", None)
    classification = {k: body.pop(k) for k in ("type", "tier") if body.get(k) is not None}
    body = {k: v for k, v in body.items() if v is not None}
    profile = clean_profile(body)
    if "name" not in profile:
        raise ValidationProblem("name must not be blank", field="name")
    assignment = assign_owner(explicit_owner=explicit_owner, creator=principal.user_id, profile=profile,
                              rules=await load_territory_rules(session))
    if assignment.rule.startswith("territory:"):
        # The rules decide, not the creator's reach: a rep may open an account that goes to the
        # territory's account manager. One who has left cannot take it: the creator keeps it.
        try:
            await directory.require_active_user(session, runtime, principal, assignment.owner_id, "owner_id")
        except ValidationProblem:
            assignment = Assignment(principal.user_id, "creator")
            await _check_owner(session, runtime, principal, assignment.owner_id)
    else:
        await _check_owner(session, runtime, principal, assignment.owner_id)
    if profile.get("parent_id"):
        await _check_parent(session, runtime, principal, None, profile["parent_id"])

    await uniqueness.lock_keys(session, profile)
    duplicate = await uniqueness.exact_duplicate(session, profile)
    if duplicate is not None:
        row, match = duplicate
        visible = await runtime.visibility.can_see(session, principal, row["owner_id"])
        if on_duplicate == "enrich" and visible:
            existing = _to_domain(await _row(session, row["id"], for_update=True, sqlite=runtime.db.sqlite))
            if profile.get("parent_id") and existing.parent_id is None:  # it would fill the parent: no loops
                check_no_cycle(existing.id, profile["parent_id"], await ancestor_chain(session, profile["parent_id"]))
            before = existing.version
            existing.enrich(profile, by=principal.user_id)
            if existing.events:
                await _save(uow, existing, before)
            return await get_account(session, runtime, principal, existing.id), False
        detail = f"an account with the same {match.replace('_', ' ')} already exists"
        if on_duplicate == "enrich":
            detail += " and belongs to another account manager; ask them or their manager to update it"
        raise Conflict(detail, field=match, existing_id=str(row["id"]), match=match)

    account = Account.open(owner_id=assignment.owner_id, created_by=principal.user_id, assignment_rule=assignment.rule,
                           **classification, **profile)
    now = utcnow()
    try:
        await session.execute(insert(accounts).values(id=account.id, created_by=principal.user_id, created_at=now,
                                                      updated_at=now, **_columns(account)))
    except IntegrityError:  # a concurrent create took the credit code between our check and insert
        raise Conflict("an account with the same credit code was created concurrently", field="credit_code") from None
    await _history(session, account, None, assignment.rule, None, principal.user_id, now)
    uow.publish(*account.events)
    await uow.commit()
    return present({"id": account.id, "created_by": principal.user_id, "created_at": now, "updated_at": now,
                    **_columns(account)}), True


async def _save(uow: UnitOfWork, account: Account, expected_version: int, *, commit: bool = True) -> None:
    result = await uow.session.execute(update(accounts).where(
        accounts.c.id == account.id, accounts.c.version == expected_version).values(
        updated_at=utcnow(), **_columns(account)))
    if result.rowcount != 1:  # someone else changed it between our read and write
        raise PreconditionFailed(f"account {account.id} changed concurrently; reload and retry")
    uow.publish(*account.events)
    account.events.clear()
    if commit:
        await uow.commit()


async def update_account(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                         values: dict, if_match: str | None) -> dict:
    session = uow.session
    account = await _load_for_change(session, runtime, principal, account_id, if_match)
    account.require_live()
    before = account.version
    cleaned = clean_profile(values)
    if "name" in values and "name" not in cleaned:
        raise ValidationProblem("name must not be blank", field="name")
    if cleaned.get("parent_id") and cleaned["parent_id"] != account.parent_id:
        await _check_parent(session, runtime, principal, account.id, cleaned["parent_id"])
    checks = {k: cleaned[k] for k in ("name", "credit_code") if k in cleaned and cleaned[k] != getattr(account, k)}
    if checks:
        probe = {"name": account.name, "credit_code": account.credit_code, **checks}
        await uniqueness.lock_keys(session, probe)
        duplicate = await uniqueness.exact_duplicate(session, probe, exclude_id=account.id)
        if duplicate is not None:
            row, match = duplicate
            raise Conflict(f"account {row['id']} already has the same {match.replace('_', ' ')}", field=match,
                           existing_id=str(row["id"]), match=match)
    if account.update(cleaned, by=principal.user_id):
        try:
            await _save(uow, account, before)
        except IntegrityError:
            raise Conflict("an account with the same credit code was saved concurrently", field="credit_code") from None
    return await get_account(session, runtime, principal, account_id)


async def reassign(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                   owner_id: uuid.UUID, reason: str | None, if_match: str | None) -> dict:
    session = uow.session
    account = await _load_for_change(session, runtime, principal, account_id, if_match)
    account.require_live()
    await _check_owner(session, runtime, principal, owner_id)
    before_version, before_owner = account.version, account.owner_id
    if account.reassign(owner_id, reason=reason, by=principal.user_id):
        await _history(session, account, before_owner, "reassigned", reason, principal.user_id, utcnow())
        await _save(uow, account, before_version)
    return await get_account(session, runtime, principal, account_id)


async def owner_history_of(session: AsyncSession, runtime: Runtime, principal: Principal,
                           account_id: uuid.UUID) -> list[dict]:
    await visible_account(session, runtime, principal, account_id)
    rows = (await session.execute(select(owner_history).where(owner_history.c.account_id == account_id)
                                  .order_by(owner_history.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def classify(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID, *,
                   type: str | None, tier: str | None, apply_recommendation: bool, reason: str | None,
                   currency: str = "CNY", if_match: str | None) -> dict:
    from .classification_service import tier_recommendation

    session = uow.session
    account = await _load_for_change(session, runtime, principal, account_id, if_match)
    account.require_live()
    score = None
    if apply_recommendation:
        if tier is not None:
            raise ValidationProblem("give a tier or apply_recommendation, not both", field="tier")
        recommendation = await tier_recommendation(session, runtime, principal, account_id, currency)
        tier, score = recommendation["recommended_tier"], recommendation["score"]
        reason = reason or f"tier score {score}/100"
    before = account.version
    if account.classify(type=type, tier=tier, reason=reason, score=score, by=principal.user_id):
        await _save(uow, account, before)
    return await get_account(session, runtime, principal, account_id)


# --- merging ------------------------------------------------------------------------------------

async def merge(uow: UnitOfWork, runtime: Runtime, principal: Principal, survivor_id: uuid.UUID,
                from_id: uuid.UUID, if_match: str | None) -> dict:
    """Merge the duplicate `from_id` into `survivor_id`: its child accounts and its records move, it
    stays as a tombstone pointing at the survivor, and kam.account.merged.v1 tells other services."""
    session = uow.session
    by = principal.user_id
    if survivor_id == from_id:
        raise ValidationProblem("an account cannot be merged into itself", field="from_id")
    # Lock both in id order, so two merges of the same pair cannot deadlock.
    first, second = sorted([survivor_id, from_id], key=str)
    loaded = {}
    for account_id in (first, second):
        field = "from_id" if account_id == from_id else None
        loaded[account_id] = await _load_for_change(session, runtime, principal, account_id,
                                                    if_match if account_id == survivor_id else None, field=field)
    survivor, duplicate = loaded[survivor_id], loaded[from_id]
    survivor.require_live("id")
    duplicate.require_live("from_id")
    if duplicate.id in await ancestor_chain(session, survivor.id):
        raise Conflict("the survivor is below the account being merged in the hierarchy; move it out first",
                       field="from_id")
    parent_allowed = bool(duplicate.parent_id) and survivor.id not in await ancestor_chain(session, duplicate.parent_id)
    now = utcnow()
    moved = MergedRecords()
    pending: list[tuple[Account, int]] = []

    # Child accounts follow their parent to the survivor.
    children = (await session.execute(select(accounts).where(
        accounts.c.parent_id == duplicate.id, accounts.c.merged_into_id.is_(None)))).mappings().all()
    for row in children:
        child = _to_domain(row)
        version = child.version
        child.update({"parent_id": survivor.id}, by=by, cause="merge")
        pending.append((child, version))
        moved.child_account_ids.append(child.id)
    # Earlier tombstones of the duplicate now point at the final survivor (one hop, always).
    earlier = (await session.execute(select(accounts).where(accounts.c.merged_into_id == duplicate.id))).mappings().all()
    for row in earlier:
        tombstone = _to_domain(row)
        version = tombstone.version
        tombstone.repoint_tombstone(survivor.id, by=by)
        pending.append((tombstone, version))

    from .records_service import record_columns, record_from_row

    record_events = []
    for kind_name, table in RECORD_TABLES.items():
        rows = (await session.execute(select(table).where(table.c.account_id == duplicate.id))).mappings().all()
        for row in rows:
            record = record_from_row(KINDS[kind_name], row)
            version = record.version
            record.move_to(survivor.id, by=by)
            result = await session.execute(update(table).where(table.c.id == record.id, table.c.version == version)
                                           .values(updated_at=now, **record_columns(record)))
            if result.rowcount != 1:
                raise PreconditionFailed(f"{kind_name} {record.id} changed concurrently; retry the merge")
            record_events.extend(record.events)
            getattr(moved, f"{kind_name}_ids").append(record.id)

    survivor_before, duplicate_before = survivor.version, duplicate.version
    survivor.absorb(duplicate, moved=moved, by=by, parent_allowed=parent_allowed)
    # The tombstone first: it gives up the credit code the survivor may take.
    await _save(uow, duplicate, duplicate_before, commit=False)
    await _save(uow, survivor, survivor_before, commit=False)
    for account, version in pending:
        await _save(uow, account, version, commit=False)
    uow.publish(*record_events)
    # Our won-revenue read model follows at once; opportunity-svc re-points and its events confirm it.
    await session.execute(update(opportunity_replica).where(opportunity_replica.c.account_id == duplicate.id)
                          .values(account_id=survivor.id))
    await uow.commit()
    return await get_account(session, runtime, principal, survivor_id)


# --- duplicates ---------------------------------------------------------------------------------

async def duplicates(session: AsyncSession, runtime: Runtime, principal: Principal, *, name: str | None,
                     credit_code: str | None, region: str | None, limit: int) -> dict:
    if not (name and name.strip()) and not (credit_code and credit_code.strip()):
        raise ValidationProblem("give a name, a credit_code or both", field="name")
    probe = clean_profile({k: v for k, v in (("name", name), ("credit_code", credit_code), ("region", region))
                           if v is not None})
    candidates = await uniqueness.candidates(session, runtime, probe, limit=limit)
    owners = await runtime.visibility.owner_ids(session, principal)
    for c in candidates:
        c["visible"] = owners is None or c.pop("owner_id") in owners
        c.pop("owner_id", None)
    return {"normalized_name": normalise(probe["name"]) if "name" in probe else None,
            "credit_code": probe.get("credit_code"), "candidates": candidates}
