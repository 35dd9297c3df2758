"""Who exists in the sales organisation: account-svc's replica of team-svc's users
(`user_replica`, fed by kam.team.events), with team-svc itself as the fallback for a user the
replica has not seen yet (created a moment ago; the event is still on its way)."""
from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.domain_errors import UpstreamUnavailable, ValidationProblem
from kam_shared.peers import peer_client
from kam_shared.replicas import upsert_versioned


async def lookup_user(session: AsyncSession, runtime: Runtime, principal: Principal, user_id: uuid.UUID,
                      field: str) -> dict | None:
    """The user from the replica, else from team-svc (remembered in the replica); None if unknown."""
    users = runtime.tables.user_replica
    row = (await session.execute(select(users).where(users.c.id == user_id))).mappings().first()
    if row is not None:
        return dict(row)
    try:
        async with peer_client(runtime, "team-svc", timeout=5) as client:
            resp = await client.get(f"/v1/users/{user_id}", headers={"Authorization": f"Bearer {principal.token}"})
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"cannot verify {field}: team-svc unreachable ({type(exc).__name__})",
                                  field=field) from None
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise UpstreamUnavailable(f"cannot verify {field}: team-svc answered {resp.status_code}", field=field)
    body = resp.json()
    values = dict(id=uuid.UUID(body["id"]), email=body["email"], name=body["name"], role=body["role"],
                  superior_id=uuid.UUID(body["superior_id"]) if body.get("superior_id") else None,
                  active=body.get("active", True), version=body["version"])
    await upsert_versioned(session, users, values)
    return values


async def require_active_user(session: AsyncSession, runtime: Runtime, principal: Principal, user_id: uuid.UUID,
                              field: str) -> dict:
    """422 naming the field when the user does not exist in the sales organisation or has left it."""
    user = await lookup_user(session, runtime, principal, user_id, field)
    if user is None:
        raise ValidationProblem(f"{field}: user {user_id} does not exist in the sales organisation", field=field)
    if not user.get("active", True):
        raise ValidationProblem(f"{field}: user {user_id} is inactive", field=field)
    return user
