"""Merging a duplicate account into its survivor. Its own slice because it spans three: the
accounts (survivor, tombstone, child accounts), the records (they move), and classification's
won-revenue replica (it follows at once). It builds on each of them; none of them on it."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.events.account import MergedRecords

from ..accounts.domain.accounts import Account
from ..accounts.repository import AccountRepository, to_domain
from ..accounts.service import get_account, load_for_change, save
from ..classification.repository import WonRevenueRepository
from ..records.service import move_records
from ..whitespace.consumers import accounts_merged
from ..whitespace.repository import WhitespaceRepository


async def _load_pair(session: AsyncSession, runtime: Runtime, principal: Principal, survivor_id: uuid.UUID,
                     from_id: uuid.UUID, if_match: str | None) -> tuple[Account, Account]:
    """Both accounts, locked in id order (so two merges of the same pair cannot deadlock)."""
    first, second = sorted([survivor_id, from_id], key=str)
    loaded = {}
    for account_id in (first, second):
        field = "from_id" if account_id == from_id else None
        loaded[account_id] = await load_for_change(session, runtime, principal, account_id,
                                                   if_match if account_id == survivor_id else None, field=field)
    survivor, duplicate = loaded[survivor_id], loaded[from_id]
    survivor.require_live("id")
    duplicate.require_live("from_id")
    return survivor, duplicate


async def _follow_survivor(repo: AccountRepository, survivor: Account, duplicate: Account, *, by: uuid.UUID | None,
                           moved: MergedRecords) -> list[tuple[Account, int]]:
    """Child accounts follow their parent to the survivor; earlier tombstones of the duplicate now
    point at the final survivor (one hop, always). Returns (account, version read) to save."""
    pending: list[tuple[Account, int]] = []
    for row in await repo.children(duplicate.id):
        child = to_domain(row)
        version = child.version
        child.update({"parent_id": survivor.id}, by=by, cause="merge")
        pending.append((child, version))
        moved.child_account_ids.append(child.id)
    for row in await repo.tombstones_of(duplicate.id):
        tombstone = to_domain(row)
        version = tombstone.version
        tombstone.repoint_tombstone(survivor.id, by=by)
        pending.append((tombstone, version))
    return pending


async def _merge_teams(repo: AccountRepository, survivor: Account, duplicate: Account, *, by: uuid.UUID | None) -> None:
    """The duplicate's account team joins the survivor's (the survivor's role wins for someone on both;
    its account manager is not a member): a team change of the survivor, after its merge."""
    theirs = await repo.team(duplicate.id)
    if not theirs:
        return
    ours = [{k: m[k] for k in ("user_id", "role", "added_at", "added_by")} for m in await repo.team(survivor.id)]
    known = {m["user_id"] for m in ours} | {survivor.owner_id}
    joining = [{k: m[k] for k in ("user_id", "role", "added_at", "added_by")} for m in theirs
               if m["user_id"] not in known]
    await repo.replace_team(duplicate.id, [])
    if joining:
        survivor.team_changed(ours + joining, added=[m["user_id"] for m in joining], removed=[], role_changed=[],
                              by=by)
        await repo.replace_team(survivor.id, ours + joining)


async def merge(uow: UnitOfWork, runtime: Runtime, principal: Principal, survivor_id: uuid.UUID,
                from_id: uuid.UUID, if_match: str | None) -> dict:
    """Merge the duplicate `from_id` into `survivor_id`: its child accounts and its records move, it
    stays as a tombstone pointing at the survivor, and kam.account.merged.v1 tells other services."""
    session = uow.session
    repo = AccountRepository(session)
    by = principal.user_id
    if survivor_id == from_id:
        raise ValidationProblem("an account cannot be merged into itself", field="from_id")
    survivor, duplicate = await _load_pair(session, runtime, principal, survivor_id, from_id, if_match)
    if duplicate.id in await repo.ancestor_chain(survivor.id):
        raise Conflict("the survivor is below the account being merged in the hierarchy; move it out first",
                       field="from_id")
    parent_allowed = bool(duplicate.parent_id) and survivor.id not in await repo.ancestor_chain(duplicate.parent_id)
    moved = MergedRecords()
    pending = await _follow_survivor(repo, survivor, duplicate, by=by, moved=moved)
    record_events = await move_records(session, duplicate.id, survivor.id, by=by, now=utcnow(), moved=moved)

    survivor_before, duplicate_before = survivor.version, duplicate.version
    survivor.absorb(duplicate, moved=moved, by=by, parent_allowed=parent_allowed)
    await _merge_teams(repo, survivor, duplicate, by=by)
    # The tombstone first: it gives up the credit code the survivor may take.
    await save(uow, duplicate, duplicate_before)
    await save(uow, survivor, survivor_before)
    for account, version in pending:
        await save(uow, account, version)
    uow.publish(*record_events)
    # Our won-revenue read model follows at once; opportunity-svc re-points and its events confirm it.
    await WonRevenueRepository(session).repoint(duplicate.id, survivor.id)
    await WhitespaceRepository(session).repoint(duplicate.id, survivor.id)
    await accounts_merged(session, survivor.id, [(survivor.industry, survivor.tier),
                                                 (duplicate.industry, duplicate.tier)])
    return await get_account(session, runtime, principal, survivor_id)
