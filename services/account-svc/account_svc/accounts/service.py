"""Use cases of account-svc for accounts: load → domain → save + events in one unit of work.

Other slices build on the helpers here (visible_account, load_for_change, save), one way: nothing
in this slice imports another slice except assignment (who owns a new account) and whitespace (an
account that changes industry or tier moves its purchases between comparable-account figures)."""
from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.http import check_if_match

from ..assignment.service import check_owner, choose_owner
from ..whitespace.consumers import account_segment_changed
from .domain.accounts import Account, clean_profile
from .domain.duplicates import judge
from .domain.hierarchy import build_tree, check_no_cycle
from .domain.names import normalise, search_key, similarity
from .repository import AccountRepository, present, to_domain

# --- reading ------------------------------------------------------------------------------------


def standing(can_see: bool, on_team: bool) -> str | None:
    """"manage" (the owner's line or an admin), "team" (on the account team: sees it, its records and
    its opportunities) or None (may not see it). The one rule every account read goes through."""
    return "manage" if can_see else "team" if on_team else None


async def access(session: AsyncSession, runtime: Runtime, principal: Principal, row) -> str | None:
    """`standing` of the caller for a row already read, asked query by query."""
    if await runtime.visibility.can_see(session, principal, row["owner_id"]):
        return standing(True, False)
    return standing(False, await AccountRepository(session).is_team_member(row["id"], principal.user_id))


async def visible_account(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                          *, field: str | None = None):
    """The account's row if the caller may see it (owner's line, admin or account team), else 404
    (naming `field`, if given). The row and the caller's standing come in one statement."""
    row, can_see, on_team = await AccountRepository(session).row_seen_by(account_id, runtime.visibility, principal)
    if row is None or standing(can_see, on_team) is None:
        raise NotFound(f"account {account_id} not found", field=field)
    return row


async def visible_scope(session: AsyncSession, runtime: Runtime, principal: Principal) -> tuple[set | None, set]:
    """(owners whose accounts the caller sees — None: all —, accounts they see as a team member)."""
    owners = await runtime.visibility.owner_ids(session, principal)
    teams = set() if owners is None else await AccountRepository(session).team_account_ids(principal.user_id)
    return owners, teams


async def get_account(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    return present(await visible_account(session, runtime, principal, account_id))


async def load_for_change(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                          if_match: str | None = None, field: str | None = None) -> Account:
    """The account, locked for this transaction, if the caller manages it (owner's line or admin) and
    holds its version. An account-team member sees the account but changes it only through its records."""
    row = await AccountRepository(session).row(account_id, lock=True)
    seen = None if row is None else await access(session, runtime, principal, row)
    if seen is None:
        raise NotFound(f"account {account_id} not found", field=field)
    if seen == "team":
        raise Forbidden("you are on this account's team (read access and its records); the account itself is "
                        "changed by its account manager, their superiors or an admin", field=field)
    check_if_match(if_match, row["version"])
    return to_domain(row)


async def save(uow: UnitOfWork, account: Account, expected_version: int) -> None:
    """Write a changed account and publish its events (the unit of work commits both)."""
    if not await AccountRepository(uow.session).save(account, expected_version, now=utcnow()):
        # someone else changed it between our read and write
        raise PreconditionFailed(f"account {account.id} changed concurrently; reload and retry")
    uow.publish(*account.events)
    account.events.clear()


def name_query_key(q: str) -> str:
    """A search text as a normalised-name fragment; legal forms are dropped unless that is all there is."""
    return normalise(q) or search_key(q)


async def list_accounts(session: AsyncSession, runtime: Runtime, principal: Principal, *, limit: int,
                        cursor: str | None, q: str | None, include_merged: bool, health: str | None = None,
                        **filters) -> dict:
    """Accounts in the caller's scope; with `health`, only that band, worst score first."""
    key = None
    if q is not None:
        key = name_query_key(q)
        if not key:
            raise ValidationProblem("q must contain letters or digits", field="q")
    owners = await runtime.visibility.owner_ids(session, principal)
    items, next_cursor = await AccountRepository(session).page(
        limit=limit, cursor=cursor, filters=filters, name_key=key, include_merged=include_merged, owners=owners,
        member=principal.user_id, health=health)
    return {"items": items, "next_cursor": next_cursor}


async def snapshot(session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None) -> dict:
    """Every account, tombstones included, ordered by id: what a read model is rebuilt from."""
    if not principal.is_admin:
        raise Forbidden("the snapshot is for read-model rebuilds; it needs an admin token")
    as_of = utcnow()
    items, next_cursor = await AccountRepository(session).snapshot_page(limit=limit, cursor=cursor)
    return {"items": items, "as_of": as_of, "next_cursor": next_cursor}


async def owner_history_of(session: AsyncSession, runtime: Runtime, principal: Principal,
                           account_id: uuid.UUID) -> list[dict]:
    await visible_account(session, runtime, principal, account_id)
    return await AccountRepository(session).history(account_id)


# --- hierarchy ----------------------------------------------------------------------------------

async def check_parent(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID | None,
                       parent_id: uuid.UUID) -> None:
    """The parent exists, is live and visible; under `account_id` it closes no loop."""
    repo = AccountRepository(session)
    row = await repo.row(parent_id)
    if row is None or await access(session, runtime, principal, row) is None:
        raise ValidationProblem(f"parent_id: account {parent_id} not found", field="parent_id")
    if row["merged_into_id"] is not None:
        raise ValidationProblem(f"parent_id: account {parent_id} was merged into {row['merged_into_id']}",
                                field="parent_id")
    if account_id is not None:
        check_no_cycle(account_id, parent_id, await repo.ancestor_chain(parent_id))


def _tree_node(row, owners: set | None, teams: set) -> dict:
    restricted = owners is not None and row["owner_id"] not in owners and row["id"] not in teams
    base = {"id": row["id"], "parent_id": row["parent_id"], "restricted": restricted}
    if restricted:  # the structure is shown, the details are not
        return {**base, "name": None}
    return {**base, "name": row["name"], "owner_id": row["owner_id"], "type": row["type"], "tier": row["tier"],
            "centralised_purchasing": row["centralised_purchasing"]}


async def tree(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    repo = AccountRepository(session)
    root = await visible_account(session, runtime, principal, account_id)
    rows = await repo.subtree(account_id)
    chain = (await repo.ancestor_chain(root["parent_id"])) if root["parent_id"] else []
    above = {r["id"]: r for r in await repo.rows(chain)} if chain else {}
    owners, teams = await visible_scope(session, runtime, principal)
    nested = build_tree(account_id, {r["id"]: _tree_node(r, owners, teams) for r in rows})
    ancestors = [_tree_node(above[i], owners, teams) for i in reversed(chain) if i in above]
    return {"ancestors": ancestors, "tree": nested}


# --- creating, enriching, changing --------------------------------------------------------------

def _creation_request(body: dict) -> tuple[uuid.UUID | None, dict, dict]:
    """(owner sent, type/tier sent, the cleaned profile) of a create request."""
    body = dict(body)
    explicit_owner = body.pop("owner_id", None)
    classification = {k: body.pop(k) for k in ("type", "tier") if body.get(k) is not None}
    profile = clean_profile({k: v for k, v in body.items() if v is not None})
    if "name" not in profile:
        raise ValidationProblem("name must not be blank", field="name")
    return explicit_owner, classification, profile


async def _enrich(uow: UnitOfWork, runtime: Runtime, principal: Principal, existing_id: uuid.UUID,
                  profile: dict) -> dict:
    """补充客户信息: fill the empty fields of the account a create found."""
    repo = AccountRepository(uow.session)
    existing = to_domain(await repo.row(existing_id, lock=True))
    if profile.get("parent_id") and existing.parent_id is None:  # it would fill the parent: no loops
        check_no_cycle(existing.id, profile["parent_id"], await repo.ancestor_chain(profile["parent_id"]))
    before = existing.version
    existing.enrich(profile, by=principal.user_id)
    if existing.events:
        await save(uow, existing, before)
    return await get_account(uow.session, runtime, principal, existing.id)


async def open_account(uow: UnitOfWork, runtime: Runtime, principal: Principal, body: dict,
                       on_duplicate: str = "reject") -> tuple[dict, bool]:
    """Create an account, or (on_duplicate=enrich) fill the empty fields of the one it duplicates.
    Returns (account, created)."""
    session = uow.session
    repo = AccountRepository(session)
    explicit_owner, classification, profile = _creation_request(body)
    assignment = await choose_owner(session, runtime, principal, explicit_owner, profile)
    if profile.get("parent_id"):
        await check_parent(session, runtime, principal, None, profile["parent_id"])

    await repo.lock_keys(profile)
    duplicate = await repo.exact_duplicate(profile)
    if duplicate is not None:
        row, match = duplicate
        visible = await runtime.visibility.can_see(session, principal, row["owner_id"])
        if on_duplicate == "enrich" and visible:
            return await _enrich(uow, runtime, principal, row["id"], profile), False
        raise _duplicate_conflict(f"an account with the same {match.replace('_', ' ')} already exists", row, match,
                                  visible)

    account = Account.open(owner_id=assignment.owner_id, created_by=principal.user_id, assignment_rule=assignment.rule,
                           **classification, **profile)
    now = utcnow()
    try:
        stored = await repo.add(account, created_by=principal.user_id, now=now)
    except IntegrityError:  # a concurrent create took the credit code between our check and insert
        raise Conflict("an account with the same credit code was created concurrently", field="credit_code") from None
    await repo.add_history(account, None, assignment.rule, None, principal.user_id, now)
    uow.publish(*account.events)
    return present(stored), True


def _duplicate_conflict(detail: str, row, match: str, visible: bool) -> Conflict:
    """409 naming the existing account when the caller may see it; else only that it exists and who owns
    it, nothing more (a direct read of it answers 404)."""
    if not visible:
        return Conflict(f"{detail} and belongs to another account manager ({row['owner_id']}); ask them or "
                        "their manager", field=match, match=match, visible=False,
                        owner_id=str(row["owner_id"]) if row["owner_id"] else None)
    return Conflict(detail, field=match, existing_id=str(row["id"]), match=match, visible=True)


async def _check_unique_change(runtime: Runtime, principal: Principal, repo: AccountRepository, account: Account,
                               cleaned: dict) -> None:
    """A new name or credit code must not be another live account's."""
    checks = {k: cleaned[k] for k in ("name", "credit_code") if k in cleaned and cleaned[k] != getattr(account, k)}
    if not checks:
        return
    probe = {"name": account.name, "credit_code": account.credit_code, **checks}
    await repo.lock_keys(probe)
    duplicate = await repo.exact_duplicate(probe, exclude_id=account.id)
    if duplicate is not None:
        row, match = duplicate
        visible = await runtime.visibility.can_see(repo.session, principal, row["owner_id"])
        raise _duplicate_conflict(f"another account already has the same {match.replace('_', ' ')}", row, match,
                                  visible)


async def update_account(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                         values: dict, if_match: str | None) -> dict:
    session = uow.session
    account = await load_for_change(session, runtime, principal, account_id, if_match)
    account.require_live()
    before = account.version
    cleaned = clean_profile(values)
    if "name" in values and "name" not in cleaned:
        raise ValidationProblem("name must not be blank", field="name")
    if cleaned.get("parent_id") and cleaned["parent_id"] != account.parent_id:
        await check_parent(session, runtime, principal, account.id, cleaned["parent_id"])
    await _check_unique_change(runtime, principal, AccountRepository(session), account, cleaned)
    segment = (account.industry, account.tier)
    if account.update(cleaned, by=principal.user_id):
        try:
            await save(uow, account, before)
        except IntegrityError:
            raise Conflict("an account with the same credit code was saved concurrently", field="credit_code") from None
        await account_segment_changed(session, account.id, segment, (account.industry, account.tier))
    return await get_account(session, runtime, principal, account_id)


async def reassign(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                   owner_id: uuid.UUID, reason: str | None, if_match: str | None) -> dict:
    session = uow.session
    account = await load_for_change(session, runtime, principal, account_id, if_match)
    account.require_live()
    await check_owner(session, runtime, principal, owner_id)
    before_version, before_owner = account.version, account.owner_id
    if account.reassign(owner_id, reason=reason, by=principal.user_id):
        await AccountRepository(session).add_history(account, before_owner, "reassigned", reason, principal.user_id,
                                                     utcnow())
        await save(uow, account, before_version)
    return await get_account(session, runtime, principal, account_id)


# --- duplicates ---------------------------------------------------------------------------------

async def find_candidates(session: AsyncSession, runtime: Runtime, probe: dict, *, limit: int) -> list[dict]:
    """Possible duplicates of `probe` (name, credit_code, region), best first."""
    repo = AccountRepository(session)
    key = normalise(probe["name"]) if probe.get("name") else None
    target = {"normalized_name": key, "credit_code": probe.get("credit_code"), "region": probe.get("region")}
    found: dict[uuid.UUID, tuple[dict, float | None]] = {}
    if target["credit_code"]:
        for row in await repo.with_credit_code(target["credit_code"]):
            found[row["id"]] = (row, None)
    if key:
        if runtime.pg_trgm is None:
            runtime.pg_trgm = await repo.trigram_index_available()
        if runtime.pg_trgm:
            near = await repo.similar_names(key, limit=limit * 3)
        else:
            near = [(row, similarity(key, row["normalized_name"])) for row in await repo.sharing_pieces(key)]
        for row, sim in near:
            found.setdefault(row["id"], (row, sim))
    scored = []
    for row, sim in found.values():
        verdict = judge(target, row, sim)
        if verdict is not None:
            scored.append({"id": row["id"], "name": row["name"], "credit_code": row["credit_code"],
                           "region": row["region"], "owner_id": row["owner_id"], "score": verdict.score,
                           "exact": verdict.exact, "reasons": verdict.reasons})
    scored.sort(key=lambda c: (-c["score"], c["name"], str(c["id"])))
    return scored[:limit]


async def duplicates(session: AsyncSession, runtime: Runtime, principal: Principal, *, name: str | None,
                     credit_code: str | None, region: str | None, limit: int) -> dict:
    if not (name and name.strip()) and not (credit_code and credit_code.strip()):
        raise ValidationProblem("give a name, a credit_code or both", field="name")
    probe = clean_profile({k: v for k, v in (("name", name), ("credit_code", credit_code), ("region", region))
                           if v is not None})
    candidates = await find_candidates(session, runtime, probe, limit=limit)
    owners, teams = await visible_scope(session, runtime, principal)
    return {"normalized_name": normalise(probe["name"]) if "name" in probe else None,
            "credit_code": probe.get("credit_code"),
            "candidates": [_candidate_out(c, owners is None or c["owner_id"] in owners or c["id"] in teams)
                           for c in candidates]}


def _candidate_out(candidate: dict, visible: bool) -> dict:
    """A candidate the caller may see in full; of one they may not, only that it matches (its score and
    whether a create would be refused) and who owns it: no id, name, credit code, region or reasons."""
    if visible:
        return {**candidate, "visible": True}
    return {"id": None, "name": None, "credit_code": None, "region": None, "score": candidate["score"],
            "exact": candidate["exact"], "reasons": [], "visible": False, "owner_id": candidate["owner_id"]}

