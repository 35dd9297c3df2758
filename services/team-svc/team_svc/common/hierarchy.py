"""Helpers every team-svc slice shares: the hierarchy by materialised path, visibility, the change log."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import and_, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden, NotFound, ValidationProblem
from kam_shared.events import DomainEvent, utcnow
from kam_shared.repository import for_update, is_postgres

from . import paths
from .models import PathText, change_log, org_units, users

# Read-only helpers take a session, or the autocommit connection of `read_only` on hot paths.
Reader = AsyncSession | AsyncConnection


# Materialised paths are derived from the parent's path: creating or moving a node computes its
# path from a parent that a concurrent move may be rewriting, and a range UPDATE does not see rows
# inserted after it started. Writes that place or move nodes of one tree therefore take that tree's
# transaction-scoped advisory lock (they are rare, admin-driven writes); reads never wait.
TREE_LOCKS = {"users": 0x6B616D01, "org_units": 0x6B616D02}


async def lock_tree(session: AsyncSession, tree: str) -> None:
    """Serialise placements and moves in one tree (PostgreSQL; SQLite has one writer anyway)."""
    if is_postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": TREE_LOCKS[tree]})


async def user_row(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False):
    query = select(users).where(users.c.id == user_id)
    if lock:
        query = for_update(query, session)
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return row


async def user_path(db: Reader, user_id: uuid.UUID) -> str | None:
    return await db.scalar(select(users.c.path).where(users.c.id == user_id))


async def is_above(session: Reader, superior_id: uuid.UUID, subordinate_id: uuid.UUID) -> bool:
    """One primary-key read: the subordinate's path names everyone above them."""
    path = await user_path(session, subordinate_id)
    return path is not None and paths.is_above(superior_id, path)


def in_subtree(column, path: str):
    low, high = paths.subtree_range(path)
    return and_(column >= low, column < high)


async def subtree_user_ids(session: AsyncSession, root_id: uuid.UUID, *, active_only: bool = False) -> list[uuid.UUID]:
    """The root and everyone below them (one index range scan)."""
    path = await user_path(session, root_id)
    if path is None:
        raise NotFound(f"user {root_id} not found")
    query = select(users.c.id).where(in_subtree(users.c.path, path))
    if active_only:
        query = query.where(users.c.active.is_(True))
    return list((await session.scalars(query)).all())


async def can_see_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID | None) -> bool:
    """The visibility rule: admins see all; others themselves and everyone below them."""
    if principal.is_admin or user_id == principal.user_id:
        return True
    return user_id is not None and await is_above(session, principal.user_id, user_id)


async def visible_user_ids(session: AsyncSession, principal: Principal) -> set[uuid.UUID] | None:
    """Whose records the principal may see; None = everyone (admin)."""
    if principal.is_admin:
        return None
    return set(await subtree_user_ids(session, principal.user_id))


async def require_above(session: AsyncSession, principal: Principal, user_id: uuid.UUID | None, what: str) -> None:
    """Admins, or someone strictly above `user_id`, may manage what belongs to that user."""
    if principal.is_admin:
        return
    if user_id is None or not await is_above(session, principal.user_id, user_id):
        raise Forbidden(f"only an admin or someone above its owner can {what}")


async def active_user(session: AsyncSession, user_id: uuid.UUID, field: str):
    row = (await session.execute(select(users.c.id, users.c.active, users.c.org_unit_id, users.c.path)
                                 .where(users.c.id == user_id))).mappings().first()
    if row is None:
        raise ValidationProblem(f"user {user_id} does not exist", field=field)
    if not row["active"]:
        raise ValidationProblem(f"user {user_id} is deactivated", field=field)
    return row


async def company_of_unit(session: AsyncSession, unit_id: uuid.UUID | None) -> uuid.UUID | None:
    if unit_id is None:
        return None
    return await session.scalar(select(org_units.c.company_id).where(org_units.c.id == unit_id))


async def move_subtree(session: AsyncSession, table, old_path: str, new_path: str) -> int:
    """Re-root every path under `old_path` (the node included) at `new_path`."""
    longest = await session.scalar(select(func.max(func.length(table.c.path)))
                                   .where(in_subtree(table.c.path, old_path)))
    # Every node of the moved subtree shifts by the same number of levels: check the deepest one.
    if longest is not None and paths.depth_of_length(longest - len(old_path) + len(new_path)) > paths.MAX_DEPTH:
        raise ValidationProblem(f"the hierarchy would be deeper than {paths.MAX_DEPTH} levels")
    result = await session.execute(
        update(table).where(in_subtree(table.c.path, old_path))
        .values(path=literal(new_path, PathText).concat(func.substr(table.c.path, len(old_path) + 1))))
    return result.rowcount


async def log_changes(session: AsyncSession, entity_type: str, events: Iterable[DomainEvent],
                      by: uuid.UUID | None) -> None:
    """One change-log row per recorded event: the history of users and org units."""
    now = utcnow()
    rows = []
    for event in events:
        data = event.data.model_dump(mode="json", by_alias=True)
        rows.append(dict(entity_type=entity_type, entity_id=uuid.UUID(str(event.subject)), version=event.sequence,
                         event_type=event.type, changed_by=by, changed_at=now,
                         changes=data.get("changes") or {"created": True}))
    if rows:
        await session.execute(insert(change_log), rows)


async def history(session: AsyncSession, entity_type: str, entity_id: uuid.UUID) -> list[dict]:
    rows = (await session.execute(select(change_log).where(change_log.c.entity_type == entity_type,
                                                           change_log.c.entity_id == entity_id)
                                  .order_by(change_log.c.id))).mappings().all()
    return [{"version": r["version"], "event_type": r["event_type"], "changed_by": r["changed_by"],
             "changed_at": r["changed_at"], "changes": r["changes"]} for r in rows]
