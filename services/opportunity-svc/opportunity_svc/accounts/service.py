"""May the caller refer to this account_id? The local replica first; when it has not caught up (or
says the caller may not see it: it may be a reassignment still on its way), ask account-svc as the
caller, which decides exactly as a direct read (`GET /v1/accounts/{id}`) does.

An account the caller may not see is answered exactly like one that does not exist (422 naming
`account_id`): a reference is never a way around the 404 of a direct read.

The question to account-svc is asked outside any write transaction (`fetch`), and the answer is
remembered in the replica by the write that needs it (`remember`, inside the unit of work).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.domain_errors import UpstreamUnavailable, ValidationProblem
from kam_shared.peers import peer_client

from .repository import AccountRepository


@dataclass(frozen=True)
class FetchedAccount:
    """What account-svc answered for an account the replica did not know yet."""
    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    version: int


def not_found(account_id: uuid.UUID) -> ValidationProblem:
    """The one answer for an account that does not exist and for one the caller may not see."""
    return ValidationProblem(f"account {account_id} does not exist", field="account_id")


def merged(account_id: uuid.UUID, survivor: uuid.UUID) -> ValidationProblem:
    return ValidationProblem(f"account {account_id} was merged into {survivor}; use that account",
                             field="account_id", survivor_id=str(survivor))


async def in_replica(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> bool:
    """True when the replica knows the account and says the caller may see it (its owner is the caller,
    below them, or the caller is an admin). An account merged into another is refused with the survivor's
    id when the caller may see the survivor, else as not found. False: ask account-svc (`fetch`)."""
    repo = AccountRepository(session)
    row = await repo.get(account_id)
    if row is None:
        return False
    if row.merged_into is not None:
        survivor = await repo.get(row.merged_into)
        if survivor is not None and await runtime.visibility.can_see(session, principal, survivor.owner_id):
            raise merged(account_id, row.merged_into)
        raise not_found(account_id)
    return await runtime.visibility.can_see(session, principal, row.owner_id)


async def fetch(runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> FetchedAccount | None:
    """Ask account-svc, as the caller (None: it does not exist, or the caller may not see it)."""
    try:
        async with peer_client(runtime, "account-svc", timeout=5) as client:
            resp = await client.get(f"/v1/accounts/{account_id}",
                                    headers={"Authorization": f"Bearer {principal.token}"})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"cannot verify account_id: account-svc unreachable ({type(exc).__name__})",
                                  field="account_id") from None
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise UpstreamUnavailable(f"cannot verify account_id: account-svc answered {resp.status_code}",
                                  field="account_id")
    body = resp.json()
    if body.get("merged_into_id"):
        raise merged(account_id, uuid.UUID(body["merged_into_id"]))
    return FetchedAccount(id=uuid.UUID(body["id"]), name=body["name"],
                          owner_id=uuid.UUID(body["owner_id"]) if body.get("owner_id") else None,
                          version=body["version"])


async def remember(session: AsyncSession, account: FetchedAccount) -> None:
    await AccountRepository(session).upsert(account.id, account.name, account.owner_id, account.version)


async def on_account_team(session: AsyncSession, account_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether the user is on the account team of the account (from the replica)."""
    return await AccountRepository(session).on_account_team(account_id, user_id)
