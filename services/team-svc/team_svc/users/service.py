"""Use cases on users: registering, moving in the hierarchy, deactivating, hierarchy queries; the bootstrap admin."""
from __future__ import annotations

import logging
import secrets
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.http import check_if_match

from ..auth import passwords
from ..auth import service as signin
from ..auth.domain import check_password
from ..auth.repository import Credentials
from ..common import paths
from ..common.hierarchy import (
    Reader,
    company_of_unit,
    is_above,
    lock_tree,
    log_changes,
    move_subtree,
    user_path,
    user_row,
)
from ..common.models import users
from .domain import Placement, User, change, check_reporting_line
from .repository import Users, present

log = logging.getLogger("team_svc")


async def _placement(session: AsyncSession, user_id: uuid.UUID, field: str) -> tuple[Placement, str]:
    row = await Users(session).placement_row(user_id)
    if row is None:
        raise ValidationProblem(f"superior {user_id} does not exist", field=field)
    return Placement(row["id"], await company_of_unit(session, row["org_unit_id"]), row["active"]), row["path"]


async def _unit_company(session: AsyncSession, unit_id: uuid.UUID | None) -> uuid.UUID | None:
    if unit_id is None:
        return None
    unit = await Users(session).unit_company_and_active(unit_id)
    if unit is None:
        raise ValidationProblem(f"org unit {unit_id} does not exist", field="org_unit_id")
    if not unit.active:
        raise ValidationProblem(f"org unit {unit_id} is deactivated", field="org_unit_id")
    return unit.company_id


async def register_user(uow: UnitOfWork, principal: Principal | None, *, email: str, name: str, role: str,
                        superior_id: uuid.UUID | None, password: str, org_unit_id: uuid.UUID | None = None,
                        title: str | None = None, must_change_password: bool = False) -> dict:
    session = uow.session
    if principal is not None and not principal.is_admin:
        # A manager may add people below themselves; only an admin may create admins or top-level users.
        if principal.role != "manager":
            raise Forbidden("only managers and admins can create users")
        if role == "admin":
            raise Forbidden("only an admin can create an admin")
        if superior_id is None or (superior_id != principal.user_id
                                   and not await is_above(session, principal.user_id, superior_id)):
            raise Forbidden("a manager can only add users within their own team", field="superior_id")
    company = await _unit_company(session, org_unit_id)
    superior_path = None
    if superior_id is not None:
        await lock_tree(session, "users")
        placement, superior_path = await _placement(session, superior_id, "superior_id")
        check_reporting_line(company, placement)
    check_password(password, email=email, name=name, common=passwords.common_passwords())
    normalised = email.strip().lower()
    if await Users(session).id_by_email(normalised):
        raise Conflict(f"a user with email {normalised} already exists", field="email")
    user = User.register(email=email, name=name, role=role, superior_id=superior_id, org_unit_id=org_unit_id,
                         title=title, password_hash=await passwords.hash_password(uow.runtime, password))
    now = utcnow()
    await Users(session).add(dict(
        id=user.id, email=user.email, name=user.name, role=user.role, superior_id=user.superior_id,
        password_hash=user.password_hash, active=user.active, version=user.version, org_unit_id=user.org_unit_id,
        title=user.title, path=paths.path_of(user.id, superior_path), created_at=now, updated_at=now,
        must_change_password=must_change_password))
    await log_changes(session, "user", user.events, principal.user_id if principal else None)
    uow.publish(*user.events)
    return await get_user(session, user.id)


def _user_from_row(row) -> User:
    return User(id=row["id"], email=row["email"], name=row["name"], role=row["role"], superior_id=row["superior_id"],
                password_hash=row["password_hash"], active=row["active"], version=row["version"],
                org_unit_id=row["org_unit_id"], title=row["title"])


async def update_user(uow: UnitOfWork, principal: Principal, user_id: uuid.UUID, fields: dict,
                      if_match: str | None) -> dict:
    """Hierarchy moves, unit placement, role changes and deactivation: admins only (they reshape
    everyone's visibility)."""
    session = uow.session
    if not principal.is_admin:
        raise Forbidden("only an admin can change a user's role, superior, org unit or active flag")
    if "superior_id" in fields:
        await lock_tree(session, "users")
    row = await user_row(session, user_id, lock=True)
    check_if_match(if_match, row["version"])
    user = _user_from_row(row)

    superior_id = fields.get("superior_id", user.superior_id)
    unit_id = fields.get("org_unit_id", user.org_unit_id)
    superior_changes = "superior_id" in fields and superior_id != user.superior_id
    unit_changes = "org_unit_id" in fields and unit_id != user.org_unit_id
    chain: list[uuid.UUID] = []
    superior_path = None
    if superior_changes or unit_changes:
        company = await _unit_company(session, unit_id) if unit_changes else await company_of_unit(session, unit_id)
        if superior_id is not None:
            placement, superior_path = await _placement(session, superior_id, "superior_id")
            chain = paths.ids_on(superior_path)
            if user.id not in chain:
                check_reporting_line(company, placement)
        if unit_changes and company is not None:
            crossing = await Users(session).reports_in_other_company(user.id, company)
            if crossing:
                raise ValidationProblem(f"{crossing} people reporting to this user belong to another company than "
                                        f"org unit {unit_id}", field="org_unit_id")
    active_reports = 0
    if fields.get("active") is False and user.active:
        active_reports = await Users(session).active_direct_reports(user.id)
        await _check_nothing_left_behind(session, user.id)
    changes = change(user, chain_of_new_superior=chain, active_direct_reports=active_reports, **fields)
    if changes:
        await _save(uow, principal, user, row, changes, superior_path)
    return await get_user(session, user.id)


async def _save(uow: UnitOfWork, principal: Principal, user: User, row, changes, superior_path) -> None:
    session = uow.session
    if "superior_id" in changes:
        await move_subtree(session, users, row["path"], paths.path_of(user.id, superior_path))
    saved = await Users(session).save(user.id, row["version"], {
        **{k: getattr(user, k) for k in changes}, "version": user.version, "updated_at": utcnow()})
    if not saved:
        raise PreconditionFailed("user changed concurrently; reload and retry")
    await log_changes(session, "user", user.events, principal.user_id)
    uow.publish(*user.events)
    if "active" in changes and not user.active:
        await signin.revoke_sessions(session, user.id, "deactivated")  # in the same transaction


async def revoke_sessions(uow: UnitOfWork, principal: Principal, user_id: uuid.UUID) -> dict:
    """An admin ends every session of a user (a lost laptop, a leaked token): their refresh tokens stop
    at once, their access tokens at expiry."""
    if not principal.is_admin:
        raise Forbidden("only an admin can revoke a user's sessions")
    if await Credentials(uow.session).by_id(user_id) is None:
        raise NotFound(f"user {user_id} not found")
    ended = await signin.revoke_sessions(uow.session, user_id, "admin")
    log.info("admin %s revoked the sessions of user %s", principal.user_id, user_id)
    return {"user_id": user_id, "revoked_sessions": ended}


async def change_password(runtime: Runtime, principal: Principal, current_password: str, new_password: str,
                          client_address: str) -> None:
    """The signed-in user picks a new password: the current one proves it is them (throttled like a
    sign-in, so a stolen token cannot guess it fast), the new one meets the policy. Clears
    must_change_password and ends every refresh token of the user (other devices sign in again); the
    client signs in again for an unrestricted token."""
    async with runtime.db.session() as session:
        row = await Credentials(session).by_id(principal.user_id)
    if row is None:
        raise NotFound(f"user {principal.user_id} not found")
    check_password(new_password, email=row["email"], name=row["name"], common=passwords.common_passwords(),
                   field="new_password")
    if new_password == current_password:
        raise ValidationProblem("new_password must differ from the current password", field="new_password")
    if await signin.check_credentials(runtime, row["email"], current_password, client_address) is None:
        raise ValidationProblem("current_password is not this user's password", field="current_password")
    new_hash = await passwords.hash_password(runtime, new_password)
    async with runtime.db.session() as session, session.begin():
        await Credentials(session).set_password_hash(row["id"], new_hash, must_change_password=False)
        await signin.revoke_sessions(session, row["id"], "password_changed")
    log.info("user %s changed their password", row["id"])


async def reset_password(runtime: Runtime, principal: Principal, user_id: uuid.UUID,
                         temporary_password: str | None) -> dict:
    """An admin gives a user a temporary password (theirs or a generated one) that only opens the
    change-password route: the user must choose their own at the next sign-in."""
    if not principal.is_admin:
        raise Forbidden("only an admin can reset a password")
    async with runtime.db.session() as session:
        row = await Credentials(session).by_id(user_id)
    if row is None:
        raise NotFound(f"user {user_id} not found")
    generated = temporary_password is None
    password = secrets.token_urlsafe(15) if generated else temporary_password
    check_password(password, email=row["email"], name=row["name"], common=passwords.common_passwords(),
                   field="temporary_password")
    new_hash = await passwords.hash_password(runtime, password)
    async with runtime.db.session() as session, session.begin():
        await Credentials(session).set_password_hash(user_id, new_hash, must_change_password=True)
        await signin.revoke_sessions(session, user_id, "password_reset")
    log.info("admin %s reset the password of user %s", principal.user_id, user_id)
    return {"user_id": user_id, "must_change_password": True, "temporary_password": password if generated else None}


async def _check_nothing_left_behind(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deactivated user keeps their history, but must not keep live responsibilities."""
    owned = await Users(session).active_territories_owned(user_id)
    if owned:
        raise Conflict(f"the user owns active territories ({', '.join(owned[:5])}); give them another owner first",
                       field="active")
    managed = await Users(session).active_units_managed(user_id)
    if managed:
        raise Conflict(f"the user manages active org units ({', '.join(managed[:5])}); appoint another manager "
                       "first", field="active")


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> dict:
    row = await Users(session).public_row(user_id)
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return present(row)


async def list_users(session: AsyncSession, *, limit: int, cursor: str | None, org_unit_id: uuid.UUID | None,
                     active: bool | None) -> dict:
    items, next_cursor = await Users(session).page(limit=limit, cursor=cursor, org_unit_id=org_unit_id,
                                                   active=active)
    return {"items": items, "next_cursor": next_cursor}


async def subtree(db: Reader, user_id: uuid.UUID, *, include_inactive: bool, max_depth: int | None) -> dict:
    """The user and everyone below them, in tree order (each manager before their team).

    One statement, one round trip (see Users.subtree_rows)."""
    rows = await Users(db).subtree_rows(user_id, include_inactive=include_inactive, max_depth=max_depth)
    if not rows:
        raise NotFound(f"user {user_id} not found")
    root_depth = paths.depth(rows[0]["path"])  # the root has the smallest path of its subtree
    members = [{**present(r), "depth": paths.depth(r["path"]) - root_depth} for r in rows]
    return {"root_id": user_id, "count": len(members), "users": members}


async def chain(db: Reader, user_id: uuid.UUID) -> dict:
    """Superiors up to the top, nearest first."""
    path = await user_path(db, user_id)
    if path is None:
        raise NotFound(f"user {user_id} not found")
    above = list(reversed(paths.ancestors(path)))
    rows = await Users(db).public_rows_by_id(above)
    return {"user_id": user_id, "chain": [{**present(rows[i]), "level": n + 1} for n, i in enumerate(above)]}


async def is_above_answer(db: Reader, superior_id: uuid.UUID, subordinate_id: uuid.UUID) -> dict:
    path = await user_path(db, subordinate_id)
    if path is None:
        raise NotFound(f"user {subordinate_id} not found")
    return {"superior_id": superior_id, "subordinate_id": subordinate_id,
            "is_above": paths.is_above(superior_id, path)}


# ------------------------------------------------------------------------------- start-up


async def ensure_bootstrap_admin(runtime: Runtime) -> None:
    settings = runtime.settings
    if not (settings.kam_bootstrap_admin_email and settings.kam_bootstrap_admin_password):
        return
    async with runtime.db.session() as session:
        exists = await Users(session).id_by_email(settings.kam_bootstrap_admin_email.lower())
    if exists:
        return
    try:
        async with runtime.uow() as uow:
            await register_user(uow, None, email=settings.kam_bootstrap_admin_email, name="Administrator",
                                role="admin", superior_id=None, password=settings.kam_bootstrap_admin_password,
                                must_change_password=settings.kam_bootstrap_admin_must_change)
    except (Conflict, IntegrityError):
        return  # another replica starting at the same moment created it
    except ValidationProblem as exc:
        # A guessable first admin is worse than none: refuse to start, saying why.
        raise RuntimeError(f"KAM_BOOTSTRAP_ADMIN_{(exc.field or 'password').upper()}: {exc.detail}") from None
    log.info("bootstrap admin %s created", settings.kam_bootstrap_admin_email)
