"""Use cases of team-svc: registering users, issuing tokens, the bootstrap admin."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork, check_if_match
from kam_shared.auth import Principal, SigningKey
from kam_shared.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.hierarchy import is_above

from .domain.users import User, change
from .models import users

log = logging.getLogger("team_svc")
hasher = PasswordHasher()
# Verifying against this keeps the timing of "no such user" equal to "wrong password".
_DUMMY_HASH = hasher.hash("not-a-real-password")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def get_user_row(session: AsyncSession, user_id: uuid.UUID):
    row = (await session.execute(select(users).where(users.c.id == user_id))).mappings().first()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return row


async def register_user(uow: UnitOfWork, principal: Principal | None, *, email: str, name: str, role: str,
                        superior_id: uuid.UUID | None, password: str) -> dict:
    session = uow.session
    if principal is not None and not principal.is_admin:
        # A manager may add people below themselves; only an admin may create admins or top-level users.
        if principal.role != "manager":
            raise Forbidden("only managers and admins can create users")
        if role == "admin":
            raise Forbidden("only an admin can create an admin")
        if superior_id is None or (superior_id != principal.user_id
                                   and not await is_above(session, users, principal.user_id, superior_id)):
            raise Forbidden("a manager can only add users within their own team", field="superior_id")
    if superior_id is not None:
        superior = await session.scalar(select(users.c.id).where(users.c.id == superior_id))
        if superior is None:
            raise ValidationProblem(f"superior {superior_id} does not exist", field="superior_id")
    if await session.scalar(select(users.c.id).where(users.c.email == email.strip().lower())):
        raise Conflict(f"a user with email {email.strip().lower()} already exists", field="email")
    user = User.register(email=email, name=name, role=role, superior_id=superior_id,
                         password_hash=await hash_password(password))
    now = utcnow()
    await session.execute(insert(users).values(
        id=user.id, email=user.email, name=user.name, role=user.role, superior_id=user.superior_id,
        password_hash=user.password_hash, active=user.active, version=user.version, created_at=now, updated_at=now))
    uow.publish(*user.events)
    await uow.commit()
    return {**user.state().model_dump()}


def _user_from_row(row) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], role=row["role"], superior_id=row["superior_id"],
                password_hash=row["password_hash"], active=row["active"], version=row["version"])


async def chain_above(session: AsyncSession, user_id: uuid.UUID | None) -> list[uuid.UUID]:
    """`user_id` and everyone above them, nearest first."""
    chain: list[uuid.UUID] = []
    while user_id is not None and user_id not in chain:
        chain.append(user_id)
        user_id = await session.scalar(select(users.c.superior_id).where(users.c.id == user_id))
    return chain


async def update_user(uow: UnitOfWork, principal: Principal, user_id: uuid.UUID, fields: dict,
                      if_match: str | None) -> dict:
    """Hierarchy moves, role changes and deactivation: admins only (they reshape everyone's visibility)."""
    session = uow.session
    if not principal.is_admin:
        raise Forbidden("only an admin can change a user's role, superior or active flag")
    row = await get_user_row(session, user_id)
    check_if_match(if_match, row["version"])
    user = _user_from_row(row)
    chain: list[uuid.UUID] = []
    if "superior_id" in fields and fields["superior_id"] is not None:
        superior = await session.scalar(select(users.c.id).where(users.c.id == fields["superior_id"]))
        if superior is None:
            raise ValidationProblem(f"superior {fields['superior_id']} does not exist", field="superior_id")
        chain = await chain_above(session, fields["superior_id"])
    changes = change(user, chain_of_new_superior=chain, **fields)
    if changes:
        result = await session.execute(users.update().where(users.c.id == user.id, users.c.version == row["version"])
                                       .values({**{k: getattr(user, k) for k in changes}, "version": user.version,
                                                "updated_at": utcnow()}))
        if result.rowcount != 1:
            raise Conflict("user changed concurrently; reload and retry")
        uow.publish(*user.events)
        await uow.commit()
    return user.state().model_dump()


async def issue_token(runtime: Runtime, key: SigningKey, email: str, password: str) -> tuple[str, int]:
    async with runtime.db.session() as session:
        row = (await session.execute(select(users).where(users.c.email == email.strip().lower()))).mappings().first()
    stored = row["password_hash"] if row else _DUMMY_HASH
    try:
        await asyncio.to_thread(hasher.verify, stored, password)
        ok = row is not None and row["active"]
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise Unauthorized("wrong email or password", headers={"WWW-Authenticate": "Bearer"})
    lifetime = runtime.settings.kam_token_lifetime_s
    token = key.issue(user_id=row["id"], email=row["email"], role=row["role"],
                      issuer=runtime.settings.kam_jwt_issuer, audience=runtime.settings.kam_jwt_audience,
                      lifetime_s=lifetime)
    return token, lifetime


async def ensure_bootstrap_admin(runtime: Runtime) -> None:
    settings = runtime.settings
    if not (settings.kam_bootstrap_admin_email and settings.kam_bootstrap_admin_password):
        return
    async with runtime.db.session() as session:
        exists = await session.scalar(select(users.c.id).where(
            users.c.email == settings.kam_bootstrap_admin_email.lower()))
    if exists:
        return
    try:
        async with runtime.uow() as uow:
            await register_user(uow, None, email=settings.kam_bootstrap_admin_email, name="Administrator",
                                role="admin", superior_id=None, password=settings.kam_bootstrap_admin_password)
    except (Conflict, IntegrityError):
        return  # another replica starting at the same moment created it
    log.info("bootstrap admin %s created", settings.kam_bootstrap_admin_email)
