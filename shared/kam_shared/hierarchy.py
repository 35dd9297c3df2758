"""A local replica of team-svc's user hierarchy, fed by `kam.team.*` events, and the
visibility rule built on it: admins see everything; anyone else sees records owned by
themselves or by anyone below them in the hierarchy (a rep has nobody below: only their own).
"""
from __future__ import annotations

import uuid

from sqlalchemy import Table, exists, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from .auth import Principal
from .events import CloudEvent, UserCreated, UserUpdated
from .replicas import upsert_versioned
from .tables import PlumbingTables


def user_replica_handlers(tables: PlumbingTables) -> dict:
    users = tables.user_replica

    async def apply_user(session: AsyncSession, event: CloudEvent, payload: UserCreated | UserUpdated) -> None:
        state = payload.user
        await upsert_versioned(session, users, dict(id=state.id, email=state.email, name=state.name, role=state.role,
                                                    superior_id=state.superior_id, active=state.active,
                                                    version=state.version))

    return {"kam.team.user_created.v1": apply_user, "kam.team.user_updated.v1": apply_user}


def subtree_cte(users: Table, root: uuid.UUID | BindParameter, name: str = "tree"):
    """The root and everyone below it as a recursive CTE with one column `id`, to join in SQL
    (never an IN list of ids). UNION, not UNION ALL: a cycle in the replica stops the recursion.
    `root` may be a bind parameter, for a statement built once and run for any root."""
    root = root if isinstance(root, BindParameter) else literal(root, users.c.id.type)
    tree = select(root.label("id")).cte(name, recursive=True)
    return tree.union(select(users.c.id).where(users.c.superior_id == tree.c.id))


async def subtree_ids(session: AsyncSession, users: Table, root: uuid.UUID) -> set[uuid.UUID]:
    """The root and everyone below it (recursive CTE; works on PostgreSQL and SQLite)."""
    tree = subtree_cte(users, root)
    return set((await session.scalars(select(tree.c.id))).all())


async def is_above(session: AsyncSession, users: Table, superior: uuid.UUID, subordinate: uuid.UUID) -> bool:
    """True when `superior` is somewhere up `subordinate`'s reporting chain (not the same person)."""
    seen: set[uuid.UUID] = set()
    current = subordinate
    while current is not None and current not in seen:
        seen.add(current)
        current = await session.scalar(select(users.c.superior_id).where(users.c.id == current))
        if current == superior:
            return True
    return False


def above_clause(users: Table, superior: uuid.UUID, subordinate: ColumnElement) -> ColumnElement[bool]:
    """`is_above` as an SQL boolean, to ask in the statement that reads a record rather than in one
    query per step up the chain after it: `subordinate` is an expression for the record's owner
    that does not refer to the outer query (a scalar subquery such as `SELECT owner_id FROM accounts
    WHERE id = :id`), since the recursive CTE it starts is rendered at the statement's top.
    UNION, not UNION ALL: a cycle in the replica stops the recursion."""
    chain = select(users.c.superior_id.label("id")).where(users.c.id == subordinate).cte("chain", recursive=True)
    chain = chain.union(select(users.c.superior_id).where(users.c.id == chain.c.id))
    return exists(select(chain.c.id).where(chain.c.id == superior))


class Visibility:
    def __init__(self, users: Table):
        self.users = users

    async def owner_ids(self, session: AsyncSession, principal: Principal) -> set[uuid.UUID] | None:
        """Owners whose records the principal may see; None means all (admin)."""
        if principal.is_admin:
            return None
        return await subtree_ids(session, self.users, principal.user_id)

    async def can_see(self, session: AsyncSession, principal: Principal, owner_id: uuid.UUID | None) -> bool:
        if principal.is_admin or owner_id == principal.user_id:
            return True
        if owner_id is None:
            return False
        return await is_above(session, self.users, principal.user_id, owner_id)

    def can_see_clause(self, principal: Principal, owner: ColumnElement) -> ColumnElement[bool]:
        """`can_see` as an SQL boolean, for a read that asks it with the record in one statement;
        `owner` as for `above_clause` (a NULL owner is seen by admins only, as in `can_see`)."""
        if principal.is_admin:
            return true()
        return (owner == principal.user_id) | above_clause(self.users, principal.user_id, owner)
