"""The account team (团队合作销售): a virtual team per account from any department, each member with
a role. The account manager (the account's owner) stays the single owner and is never a member.
Pure: the caller passes the team as it is, `now` and who acts."""
from __future__ import annotations

import datetime as dt
import uuid

from kam_shared.domain_errors import NotFound, ValidationProblem

from ..common.vocabulary import ACCOUNT_TEAM_ROLES

Member = dict  # {user_id, role, added_at, added_by}


def set_member(team: list[Member], user_id: uuid.UUID, role: str, *, owner_id: uuid.UUID | None,
               by: uuid.UUID | None, now: dt.datetime) -> tuple[list[Member], str | None]:
    """The team with `user_id` in `role`, and "added", "role_changed" or None (nothing to change)."""
    if role not in ACCOUNT_TEAM_ROLES:
        raise ValidationProblem(f"role must be one of {', '.join(ACCOUNT_TEAM_ROLES)}", field="role")
    if user_id == owner_id:
        raise ValidationProblem(f"user_id: {user_id} is the account manager (the single owner), not a team member",
                                field="user_id")
    current = next((m for m in team if m["user_id"] == user_id), None)
    if current is None:
        return [*team, {"user_id": user_id, "role": role, "added_at": now, "added_by": by}], "added"
    if current["role"] == role:
        return team, None
    return [{**m, "role": role} if m["user_id"] == user_id else m for m in team], "role_changed"


def remove_member(team: list[Member], user_id: uuid.UUID) -> list[Member]:
    if not any(m["user_id"] == user_id for m in team):
        raise NotFound(f"user {user_id} is not on this account's team", field="user_id")
    return [m for m in team if m["user_id"] != user_id]
